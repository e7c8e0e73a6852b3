package eventrouter.warehouse.typed;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * One event as a row of its typed table: the fixed columns every row of that table has, and a cell per flattened
 * property (or trait) and context field. Built in plain Java from the normalised event.
 *
 * @param table the table's identifier
 * @param kind which fixed columns it has
 * @param fixed the fixed columns' values, by column
 * @param cells the typed columns' values, by column, in the event's order
 * @param clashes paths that mapped to a column another path of the same event already took (kept in discards)
 */
public record TypedRow(String table, Kind kind, String messageId, ObjectNode fixed, Map<String, Cell> cells,
    List<Cell> clashes) {

  /** Deeper objects than this are stored whole, as jsonb, in the column of their path so far. */
  static final int MAX_DEPTH = 8;
  /** Our own tables: an event named like one of them gets a table with a leading {@code _}. */
  public static final Set<String> OWN_TABLES = Set.of("events", "tracks", "identifies", "pages", "screens", "groups",
      "aliases", "users", "identities", "signals", "warehouse_rejects", "delivery_retries", "dead_letters",
      "computed_traits", "ingest_rejects", "schema_migrations", "schema_tables", "schema_columns", "schema_discards",
      "schema_overflow", "user_identities", "events_stitched");
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
  /**
   * Names already mapped, by kind (null: the context and table names) and path: the same few hundred paths come back
   * in every batch, and the mapping's regular expressions were most of the writer's own CPU. Cleared when full.
   */
  private static final Map<Kind, Map<String, String>> NAMES = new ConcurrentHashMap<>();
  private static final Map<String, String> CONTEXT_NAMES = new ConcurrentHashMap<>();
  private static final int MAX_CACHED_NAMES = 50_000;
  /** Fractions as BigDecimal, so that a typed numeric column gets the digits that were sent. */
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).build();

  /** One typed value: where it came from, the JSON value, and the type it asks for. */
  public record Cell(String column, String path, JsonNode value, ValueType type) {
  }

  /** The tables with typed columns, and their fixed columns (which user data never names). */
  public enum Kind {
    TRACK(Map.of("message_id", ValueType.TEXT, "user_id", ValueType.TEXT, "anonymous_id", ValueType.TEXT,
        "event", ValueType.TEXT, "source_id", ValueType.TEXT, "timestamp", ValueType.TIMESTAMPTZ,
        "original_timestamp", ValueType.TIMESTAMPTZ, "sent_at", ValueType.TIMESTAMPTZ, "received_at",
        ValueType.TIMESTAMPTZ), Set.of("loaded_at")),
    IDENTIFY(Map.of("message_id", ValueType.TEXT, "user_id", ValueType.TEXT, "anonymous_id", ValueType.TEXT,
        "timestamp", ValueType.TIMESTAMPTZ, "received_at", ValueType.TIMESTAMPTZ, "traits", ValueType.JSONB,
        "context", ValueType.JSONB), Set.of("loaded_at", "id", "first_seen_at", "last_seen_at")),
    PAGE(Map.of("message_id", ValueType.TEXT, "user_id", ValueType.TEXT, "anonymous_id", ValueType.TEXT,
        "name", ValueType.TEXT, "category", ValueType.TEXT, "timestamp", ValueType.TIMESTAMPTZ, "received_at",
        ValueType.TIMESTAMPTZ, "properties", ValueType.JSONB, "context", ValueType.JSONB), Set.of("loaded_at")),
    SCREEN(PAGE.fixedTypes, PAGE.otherFixed),
    /** {@code users}: one row per user, with the latest value of each trait (the identify trait columns). */
    USER(Map.of("id", ValueType.TEXT), IDENTIFY.fixedColumns);

    /** The fixed columns the writer fills, and their types. */
    private final Map<String, ValueType> fixedTypes;
    private final Set<String> otherFixed;
    private final Set<String> fixedColumns;
    private final Predicate<String> reserved;

    Kind(Map<String, ValueType> fixedTypes, Set<String> otherFixed) {
      this.fixedTypes = fixedTypes;
      this.otherFixed = otherFixed;
      Set<String> all = new java.util.HashSet<>(fixedTypes.keySet());
      all.addAll(otherFixed);
      this.fixedColumns = Set.copyOf(all);
      // context_* columns come from the context: a property or trait named like one gets a leading _.
      this.reserved = name -> fixedColumns.contains(name) || name.equals("context") || name.startsWith("context_");
    }

    /** Every fixed column, which user data never names. */
    public Set<String> fixedColumns() {
      return fixedColumns;
    }

    Map<String, ValueType> fixedTypes() {
      return fixedTypes;
    }

    /** Whether the table is one of ours, made by a migration, rather than one per event. */
    public boolean migrated() {
      return this != TRACK;
    }
  }

  /** A normalised event as text, read as the typed tables need it; null when it is not a JSON object. */
  public static ObjectNode parse(String json) {
    try {
      return MAPPER.readTree(json) instanceof ObjectNode event ? event : null;
    } catch (JsonProcessingException e) {
      return null;
    }
  }

  /**
   * The row of a normalised event, or null for one without a typed table (group, alias, a track without a name).
   */
  public static TypedRow of(ObjectNode event) {
    String type = event.path("type").asText();
    String messageId = event.path("messageId").asText();
    ObjectNode fixed = JSON.objectNode();
    fixed.put("message_id", messageId);
    copy(event, "userId", fixed, "user_id");
    copy(event, "anonymousId", fixed, "anonymous_id");
    copy(event, "timestamp", fixed, "timestamp");
    copy(event, "receivedAt", fixed, "received_at");
    JsonNode context = event.path("context");
    Kind kind;
    String table;
    JsonNode values;
    switch (type) {
      case "track" -> {
        String name = event.path("event").asText("");
        if (name.isEmpty()) {
          return null;
        }
        kind = Kind.TRACK;
        table = cached(CONTEXT_NAMES, "\u0001" + name, () -> Identifiers.of(name, OWN_TABLES::contains));
        copy(event, "event", fixed, "event");
        copy(event, "sourceId", fixed, "source_id");
        copy(event, "originalTimestamp", fixed, "original_timestamp");
        copy(event, "sentAt", fixed, "sent_at");
        values = event.path("properties");
      }
      case "identify" -> {
        kind = Kind.IDENTIFY;
        table = "identifies";
        values = traitsOf(event);
        setObject(fixed, "traits", values);
        setObject(fixed, "context", context);
      }
      case "page", "screen" -> {
        kind = type.equals("page") ? Kind.PAGE : Kind.SCREEN;
        table = type.equals("page") ? "pages" : "screens";
        copy(event, "name", fixed, "name");
        copy(event, "category", fixed, "category");
        values = event.path("properties");
        setObject(fixed, "properties", values);
        setObject(fixed, "context", context);
      }
      default -> {
        return null;
      }
    }
    Map<String, Cell> cells = new LinkedHashMap<>();
    List<Cell> clashes = new ArrayList<>();
    flatten(values, new ArrayList<>(), kind, cells, clashes);
    List<String> contextPath = new ArrayList<>(List.of("context"));
    flatten(context, contextPath, null, cells, clashes);
    return new TypedRow(table, kind, messageId, fixed, cells, clashes);
  }

  /** What an identify's traits are: {@code traits}, or the SDKs' {@code context.traits} when it has none. */
  static JsonNode traitsOf(ObjectNode event) {
    JsonNode traits = event.path("traits");
    return traits.isObject() ? traits : event.path("context").path("traits");
  }

  /** The trait cells of an identify row, for its user's row in {@code users}. */
  public Map<String, Cell> traitCells() {
    Map<String, Cell> traits = new LinkedHashMap<>();
    cells.forEach((column, cell) -> {
      if (!cell.path().startsWith("context.")) {
        traits.put(column, cell);
      }
    });
    return traits;
  }

  /** @param kind null for context paths, whose first segment "context" keeps them apart from user data */
  private static void flatten(JsonNode node, List<String> path, Kind kind, Map<String, Cell> cells,
      List<Cell> clashes) {
    if (!node.isObject()) {
      return;
    }
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      JsonNode value = field.getValue();
      if (value.isNull() || value.isMissingNode()) {
        continue;
      }
      path.add(field.getKey());
      if (value.isObject() && path.size() < MAX_DEPTH) {
        flatten(value, path, kind, cells, clashes);
      } else if (!value.isObject() || !value.isEmpty()) {
        String column = cached(kind == null ? CONTEXT_NAMES : NAMES.computeIfAbsent(kind, k -> new ConcurrentHashMap<>()),
            String.join("\u0000", path), () -> Identifiers.ofPath(path, kind == null ? name -> false : kind.reserved));
        Cell cell = new Cell(column, String.join(".", path), value, ValueType.of(value));
        if (cells.putIfAbsent(column, cell) != null) {
          clashes.add(cell);
        }
      }
      path.remove(path.size() - 1);
    }
  }

  private static String cached(Map<String, String> cache, String key, Supplier<String> mapping) {
    String name = cache.get(key);
    if (name == null) {
      if (cache.size() >= MAX_CACHED_NAMES) {
        cache.clear();
      }
      name = mapping.get();
      cache.put(key, name);
    }
    return name;
  }

  private static void copy(JsonNode from, String field, ObjectNode to, String column) {
    JsonNode value = from.get(field);
    if (value != null && !value.isNull()) {
      to.put(column, value.asText());
    }
  }

  private static void setObject(ObjectNode to, String column, JsonNode value) {
    if (value.isObject()) {
      to.set(column, value);
    }
  }
}
