package eventrouter.config;

import java.util.function.Predicate;

/**
 * One configuration key, defined once: where it lives in {@code conf/router.json}, the environment
 * variable that overrides it, its type, default, check and documentation.
 *
 * @param path dotted JSON path, e.g. {@code http.port}
 * @param env environment variable that overrides the file, e.g. {@code ROUTER_HTTP_PORT}
 * @param type the Java type the raw value must convert to
 * @param defaultValue used when neither the file nor the environment sets the key; may be null
 * @param check holds for every acceptable value; {@link #checkDoc} says what it requires
 * @param checkDoc the requirement in words, used in error messages and in the README
 * @param doc what the key does
 */
public record ConfigKey<T>(
    String path,
    String env,
    Class<T> type,
    T defaultValue,
    Predicate<T> check,
    String checkDoc,
    String doc) {

  public static ConfigKey<Integer> integer(String path, String env, int defaultValue, int min, int max, String doc) {
    return new ConfigKey<>(path, env, Integer.class, defaultValue, v -> v >= min && v <= max,
        "an integer from " + min + " to " + max, doc);
  }

  public static ConfigKey<Double> decimal(String path, String env, double defaultValue, double min, String doc) {
    return new ConfigKey<>(path, env, Double.class, defaultValue, v -> v >= min && !v.isNaN() && !v.isInfinite(),
        "a number of at least " + min, doc);
  }

  public static ConfigKey<Boolean> bool(String path, String env, boolean defaultValue, String doc) {
    return new ConfigKey<>(path, env, Boolean.class, defaultValue, v -> true, "true or false", doc);
  }

  public static ConfigKey<String> string(String path, String env, String defaultValue, String doc) {
    return new ConfigKey<>(path, env, String.class, defaultValue, v -> !v.isBlank(), "a non-empty string", doc);
  }

  public static ConfigKey<String> string(String path, String env, String defaultValue, Predicate<String> check,
      String checkDoc, String doc) {
    return new ConfigKey<>(path, env, String.class, defaultValue, check, checkDoc, doc);
  }

  /** Converts a raw value from JSON or the environment, then checks it; failures name this key. */
  T convert(Object raw, String origin) {
    T value;
    try {
      value = type.cast(parse(raw));
    } catch (RuntimeException e) {
      throw new ConfigException(describe(origin) + " must be " + checkDoc + " (got " + quote(raw) + ")");
    }
    if (!check.test(value)) {
      throw new ConfigException(describe(origin) + " must be " + checkDoc + " (got " + quote(raw) + ")");
    }
    return value;
  }

  String describe(String origin) {
    return origin.equals("env") ? env + " (config key " + path + ")" : path + " in " + origin;
  }

  private Object parse(Object raw) {
    // Environment variables are always strings, so numbers are also accepted in their string form.
    if (type == Integer.class) {
      return raw instanceof Number n && n.doubleValue() == n.intValue() ? n.intValue() : Integer.valueOf(raw.toString().trim());
    }
    if (type == Double.class) {
      return raw instanceof Number n ? n.doubleValue() : Double.valueOf(raw.toString().trim());
    }
    if (type == Boolean.class) {
      String text = raw.toString().trim();
      if (raw instanceof Boolean || text.equals("true") || text.equals("false")) {
        return Boolean.valueOf(text);
      }
      throw new IllegalArgumentException("not a boolean: " + raw);
    }
    if (type == String.class && raw instanceof String) {
      return raw;
    }
    throw new IllegalArgumentException("cannot convert " + raw + " to " + type.getSimpleName());
  }

  private static String quote(Object raw) {
    return raw instanceof String ? "\"" + raw + "\"" : String.valueOf(raw);
  }
}
