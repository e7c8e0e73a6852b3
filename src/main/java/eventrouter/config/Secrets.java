package eventrouter.config;

import eventrouter.config.RouterConfig.SourceConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;

/**
 * Fills in the node id, the admin token and, when no source is configured, a write key: each is generated once into
 * the data dir and read back on every later start, so that clients and operators keep working across restarts, and a
 * restarted node's consumers come back as the same static group members.
 */
public final class Secrets {
  public static final String ADMIN_TOKEN_FILE = "admin-token";
  public static final String WRITE_KEY_FILE = "write-key";
  public static final String NODE_ID_FILE = "node-id";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** What was resolved, and whether it was generated on this start (so that it is worth printing). */
  public record Resolved(RouterConfig config, boolean adminTokenGenerated, boolean writeKeyGenerated) {
  }

  private Secrets() {
  }

  public static Resolved resolve(RouterConfig config) {
    Path dataDir = config.dataDir();
    boolean tokenGenerated = false;
    String token = config.adminToken();
    if (token == null) {
      Path file = dataDir.resolve(ADMIN_TOKEN_FILE);
      tokenGenerated = !Files.exists(file);
      token = readOrCreate(file, 24);
    }
    boolean keyGenerated = false;
    List<SourceConfig> sources = config.sources();
    if (sources.isEmpty()) {
      Path file = dataDir.resolve(WRITE_KEY_FILE);
      keyGenerated = !Files.exists(file);
      sources = List.of(RouterConfig.sourceForKey(readOrCreate(file, 24), config.defaultRateLimit()));
    }
    String nodeId = config.nodeId() != null ? config.nodeId()
        : "node-" + readOrCreate(dataDir.resolve(NODE_ID_FILE), 6);
    return new Resolved(config.withSecrets(nodeId, token, sources), tokenGenerated, keyGenerated);
  }

  /** @param randomBytes how many random bytes a new value holds; it is written base64url, without padding */
  private static String readOrCreate(Path file, int randomBytes) {
    try {
      if (Files.exists(file)) {
        return Files.readString(file, StandardCharsets.UTF_8).trim();
      }
      byte[] bytes = new byte[randomBytes];
      RANDOM.nextBytes(bytes);
      String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
      Files.createDirectories(file.getParent());
      Path temp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(temp, secret + "\n", StandardCharsets.UTF_8);
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
      return secret;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create " + file, e);
    }
  }
}
