package eventrouter.loadtest.bench;

import java.util.HashMap;
import java.util.Map;

/** {@code --name value} command-line pairs, each read once with a default or as required. */
final class Args {
  private final Map<String, String> values = new HashMap<>();

  Args(String[] args, int from) {
    for (int i = from; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 == args.length) {
        throw new IllegalArgumentException("expected --name value pairs, got " + args[i]);
      }
      values.put(args[i].substring(2), args[++i]);
    }
  }

  String get(String name) {
    String value = values.get(name);
    if (value == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return value;
  }

  String get(String name, String defaultValue) {
    return values.getOrDefault(name, defaultValue);
  }

  long getLong(String name, long defaultValue) {
    String value = values.get(name);
    return value == null ? defaultValue : Long.parseLong(value);
  }

  double getDouble(String name, double defaultValue) {
    String value = values.get(name);
    return value == null ? defaultValue : Double.parseDouble(value);
  }
}
