package eventrouter.config;

import static eventrouter.config.ConfigKeys.TRAITS_FILE;

import eventrouter.config.RouterConfig.TraitDefinition;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads {@code conf/traits.json} (or the file {@code ROUTER_TRAITS} names): a JSON array of computed traits, each
 * {@code {"name", "sql", "description"}}, where {@code sql} is a string or an array of lines. A problem fails with
 * the trait's index, its name and the field. Whether the SQL runs is checked against Postgres when the traits
 * verticle starts.
 */
final class TraitsFile {
  /** A CEL identifier, so that rules can write {@code traits.<name>}. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
  private static final Set<String> FIELDS = Set.of("name", "sql", "description");
  /** The user ids parameter; without it a query would compute every user on every refresh. */
  private static final Pattern USER_IDS_PARAMETER = Pattern.compile("\\$1(?![0-9])");

  private TraitsFile() {
  }

  /** @param explicit whether the file was named by the user; a missing default file means no computed traits */
  static List<TraitDefinition> read(Path path, boolean explicit) {
    return parse(JsonArrayFile.read(path, explicit, TRAITS_FILE, "traits"), path.toString());
  }

  static List<TraitDefinition> parse(JsonArray array, String file) {
    List<TraitDefinition> traits = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < array.size(); i++) {
      TraitDefinition trait = trait(array.getValue(i), "traits[" + i + "]", file);
      if (!names.add(trait.name())) {
        throw new ConfigException("traits[" + i + "].name in " + file + ": \"" + trait.name() + "\" is used twice");
      }
      traits.add(trait);
    }
    return List.copyOf(traits);
  }

  private static TraitDefinition trait(Object raw, String at, String file) {
    if (!(raw instanceof JsonObject json)) {
      throw new ConfigException(at + " in " + file + " must be an object {\"name\", \"sql\", \"description\"}");
    }
    String name = json.getValue("name") instanceof String s && NAME.matcher(s).matches() ? s : null;
    if (name == null) {
      throw new ConfigException(at + ".name in " + file + " must be 1 to 64 letters, digits or '_', not starting"
          + " with a digit, as rules read it as traits.<name> (got " + json.getValue("name") + ")");
    }
    String where = at + " (\"" + name + "\")";
    for (String field : json.fieldNames()) {
      if (!FIELDS.contains(field)) {
        throw new ConfigException(where + "." + field + " in " + file + " is not a setting of a trait (known: "
            + "description, name, sql)");
      }
    }
    String sql = sql(json.getValue("sql"));
    if (sql == null || sql.isBlank()) {
      throw new ConfigException(where + ".sql in " + file + " must be a SQL query: a string, or an array of lines");
    }
    if (!USER_IDS_PARAMETER.matcher(sql).find()) {
      throw new ConfigException(where + ".sql in " + file + " must read the user ids to compute from $1 (a text[]),"
          + " e.g. WHERE user_id = ANY($1)");
    }
    Object description = json.getValue("description");
    if (description != null && !(description instanceof String)) {
      throw new ConfigException(where + ".description in " + file + " must be a string");
    }
    // The query is wrapped in a WITH clause, where a statement's closing semicolon would be an error.
    return new TraitDefinition(name, sql.strip().replaceAll(";+$", "").strip(), (String) description);
  }

  /** The query as one string, or null if it is neither a string nor an array of strings. */
  private static String sql(Object raw) {
    if (raw instanceof String text) {
      return text;
    }
    if (raw instanceof JsonArray lines && lines.stream().allMatch(String.class::isInstance)) {
      return String.join("\n", lines.getList());
    }
    return null;
  }
}
