package eventrouter.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Raw configuration: the JSON file with environment variables layered on top. Typed values come out
 * through {@link #get(ConfigKey)}, which converts and checks them.
 */
public final class Settings {
  private static final Set<String> SECTIONS_WITHOUT_KEYS = Set.of("sources");

  private final JsonObject file;
  private final String fileName;
  private final Map<String, String> env;

  public Settings(JsonObject file, String fileName, Map<String, String> env) {
    this.file = file;
    this.fileName = fileName;
    this.env = env;
    rejectUnknownKeys();
  }

  /** Reads a config file; a missing or malformed file fails with its path. */
  public static Settings load(Path configFile, Map<String, String> env) {
    String text;
    try {
      text = Files.readString(configFile);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + configFile + ": " + e.getMessage(), e);
    }
    try {
      return new Settings(new JsonObject(text), configFile.toString(), env);
    } catch (DecodeException e) {
      throw new ConfigException("config file " + configFile + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  public <T> T get(ConfigKey<T> key) {
    String fromEnv = env.get(key.env());
    if (fromEnv != null && !fromEnv.isBlank()) {
      return key.convert(fromEnv, "env");
    }
    Object fromFile = lookup(key.path());
    if (fromFile != null) {
      return key.convert(fromFile, fileName);
    }
    return key.defaultValue();
  }

  /** Whether the environment or the file sets the key, rather than its default applying. */
  public boolean isSet(ConfigKey<?> key) {
    String fromEnv = env.get(key.env());
    return (fromEnv != null && !fromEnv.isBlank()) || lookup(key.path()) != null;
  }

  /** The raw JSON under a section that is not a scalar key, such as {@code sources}. */
  public Object section(String name) {
    return file.getValue(name);
  }

  public String fileName() {
    return fileName;
  }

  private Object lookup(String path) {
    Object node = file;
    for (String part : path.split("\\.")) {
      if (!(node instanceof JsonObject object)) {
        return null;
      }
      node = object.getValue(part);
    }
    return node;
  }

  /** A misspelt key would otherwise be ignored silently, which is worse than failing. */
  private void rejectUnknownKeys() {
    for (ConfigKeys.ReplacedKey replaced : ConfigKeys.REPLACED) {
      if (lookup(replaced.path()) != null) {
        throw new ConfigException(replaced.path() + " in " + fileName + " was replaced: " + replaced.replacement());
      }
      if (env.containsKey(replaced.env())) {
        throw new ConfigException(replaced.env() + " was replaced: " + replaced.replacement());
      }
    }
    Set<String> known = new TreeSet<>(SECTIONS_WITHOUT_KEYS);
    for (ConfigKey<?> key : ConfigKeys.ALL) {
      known.add(key.path());
    }
    checkKnown(file, "", known);
  }

  private void checkKnown(JsonObject object, String prefix, Set<String> known) {
    for (String name : object.fieldNames()) {
      String path = prefix + name;
      if (known.contains(path)) {
        continue;
      }
      Object value = object.getValue(name);
      boolean isSection = known.stream().anyMatch(k -> k.startsWith(path + "."));
      if (isSection && value instanceof JsonObject nested) {
        checkKnown(nested, path + ".", known);
      } else {
        throw new ConfigException("unknown config key " + path + " in " + fileName
            + " (known keys: " + String.join(", ", known) + ")");
      }
    }
  }
}
