package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The {@code clients/} directory: the SDK pages and scripts, and the SDKs that {@code npm ci} installed. */
final class Clients {
  static final Path DIR = Path.of("clients").toAbsolutePath();
  static final Path NODE_MODULES = DIR.resolve("node_modules");

  private Clients() {
  }

  /**
   * Fails, naming the fix, unless every SDK that clients/package.json pins is installed at exactly that version:
   * {@code mvn verify} runs {@code npm ci} in generate-test-resources, but an IDE or {@code -Dtest=} run may not.
   */
  static void requireSdks() {
    String fix = "run `npm ci --prefix clients` (mvn verify does it in generate-test-resources; it needs node and npm:"
        + " apt-get install nodejs npm)";
    assertTrue(Files.isDirectory(NODE_MODULES), NODE_MODULES + " is missing: " + fix);
    JsonObject pinned = read(DIR.resolve("package.json")).getJsonObject("dependencies");
    for (String name : pinned.fieldNames()) {
      Path manifest = NODE_MODULES.resolve(name).resolve("package.json");
      assertTrue(Files.isRegularFile(manifest), name + " is not installed in " + NODE_MODULES + ": " + fix);
      assertEquals(pinned.getString(name), read(manifest).getString("version"),
          name + " in " + NODE_MODULES + " is not the version clients/package.json pins: " + fix);
    }
  }

  private static JsonObject read(Path file) {
    try {
      return new JsonObject(Files.readString(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
