package eventrouter.loadtest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/**
 * The knobs every simulation reads, from system properties ({@code mvn gatling:test -DbaseUrl=... -Drate=...}).
 * Each is read once here with its default and a check, so a typo fails the run before any traffic is sent.
 */
final class LoadSettings {
  /** Where the router listens. Traffic goes only to this machine. */
  final String baseUrl = string("baseUrl", "http://127.0.0.1:8080");
  /** The write key: {@code -DwriteKey=...}, or else the file the router generated on first start. */
  final String writeKey = writeKey();
  /** Arrivals per second: journeys for the shopper simulation, batch requests for the batch simulation. */
  final double rate = positive("rate", 20);
  /** How long arrivals go on; the run then waits for the users in flight to finish. */
  final Duration duration = Duration.ofSeconds((long) positive("duration", 30));
  /** The response-time percentile that is asserted, and its limit. */
  final double percentile = positive("percentile", 99);
  final int percentileMaxMs = (int) positive("percentileMaxMs", 250);

  LoadSettings() {
    if (!baseUrl.startsWith("http://127.") && !baseUrl.startsWith("http://localhost")
        && !baseUrl.startsWith("http://[::1]")) {
      throw new IllegalArgumentException("baseUrl must be on this machine (127.0.0.0/8, localhost or [::1]); got "
          + baseUrl);
    }
    if (percentile > 100) {
      throw new IllegalArgumentException("percentile must be at most 100 (got " + percentile + ")");
    }
  }

  String basicAuth() {
    return "Basic " + Base64.getEncoder().encodeToString((writeKey + ":").getBytes(StandardCharsets.UTF_8));
  }

  static String string(String name, String defaultValue) {
    String value = System.getProperty(name);
    return value == null || value.isBlank() ? defaultValue : value.trim();
  }

  static double positive(String name, double defaultValue) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      return defaultValue;
    }
    try {
      double parsed = Double.parseDouble(value.trim());
      if (parsed > 0) {
        return parsed;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("-D" + name + " must be a positive number (got \"" + value + "\")");
  }

  static boolean bool(String name, boolean defaultValue) {
    String value = string(name, Boolean.toString(defaultValue));
    if (!value.equals("true") && !value.equals("false")) {
      throw new IllegalArgumentException("-D" + name + " must be true or false (got \"" + value + "\")");
    }
    return Boolean.parseBoolean(value);
  }

  private static String writeKey() {
    String key = System.getProperty("writeKey");
    if (key != null && !key.isBlank()) {
      return key.trim();
    }
    Path file = Path.of(string("writeKeyFile", "../data/write-key"));
    try {
      return Files.readString(file).trim();
    } catch (IOException e) {
      throw new IllegalArgumentException("no write key: pass -DwriteKey=KEY, or -DwriteKeyFile=FILE (the router writes"
          + " data/write-key when it generates one); " + file.toAbsolutePath() + " could not be read: " + e);
    }
  }
}
