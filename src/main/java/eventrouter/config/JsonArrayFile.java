package eventrouter.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A config file that holds a JSON array of items (destinations, traits). */
final class JsonArrayFile {
  private JsonArrayFile() {
  }

  /**
   * @param explicit whether the user named the file; a missing default file means no items
   * @param key the config key that names the file, for the error message
   * @param items what the array holds, for error messages ("destinations", "traits")
   * @return the array, empty when the default file is missing
   */
  static JsonArray read(Path path, boolean explicit, ConfigKey<String> key, String items) {
    if (!Files.exists(path) && !explicit) {
      return new JsonArray();
    }
    String text;
    try {
      text = Files.readString(path);
    } catch (IOException e) {
      throw new ConfigException("cannot read " + items + " file " + path + " (" + key.env() + "): " + e.getMessage(),
          e);
    }
    try {
      return new JsonArray(text);
    } catch (DecodeException e) {
      throw new ConfigException(items + " file " + path + " must hold a JSON array of " + items + ": "
          + e.getMessage(), e);
    }
  }
}
