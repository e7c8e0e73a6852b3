package eventrouter.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class DocumentedKeysTest {
  @Test
  @DisplayName("README's configuration table names every config key and its environment variable")
  void everyKeyIsDocumented() throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    for (ConfigKey<?> key : ConfigKeys.ALL) {
      assertTrue(readme.contains("| `" + key.path() + "` | `" + key.env() + "` |"),
          "README.md lacks a row for " + key.path() + " / " + key.env());
    }
  }
}
