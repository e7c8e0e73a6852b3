package eventrouter.warehouse.typed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import eventrouter.config.RouterConfig.WarehouseConfig;
import eventrouter.warehouse.typed.TypedRow.Cell;
import eventrouter.warehouse.typed.TypedRow.Kind;
import eventrouter.warehouse.typed.ValueType.Fit;
import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Writes the typed tables inside the warehouse writer's transaction: a table per track event, and the typed columns
 * of {@code identifies}, {@code pages}, {@code screens} and {@code users}.
 *
 * <p>Schema changes happen in the transaction of the batch that first carries them. Every batch takes a Postgres
 * advisory lock first: shared when the batch fits the schema this writer knows, exclusive when it needs a table, a
 * column or a widening. So a schema change runs alone (on every node), after the batches in flight have committed,
 * and two writers racing for one column serialise: the second finds it made ({@code IF NOT EXISTS}, then the
 * catalog read again under the lock) and goes on. Lock order is always the advisory lock first, so they cannot
 * deadlock. Schema changes wait at most {@code lock_timeout} (10 s) for readers of the table (an analyst's long
 * query); past it the batch is retried.
 *
 * <p>What the writer knows of the schema is a cache that only ever lags: tables and columns are never dropped or
 * narrowed by the router, so a stale cache means a needless exclusive lock, never a wrong row. It is forgotten when a
 * batch fails ({@link #forget}), in case an operator changed a table.
 */
public final class TypedTables {
  /** The advisory lock's two keys: "ERTY" and 1. */
  private static final int LOCK_SPACE = 0x45525459;
  private static final int LOCK_ID = 1;
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  /**
   * @param enabled false: only the fixed columns of identifies, pages and screens are written (no table per event,
   *     no typed columns)
   * @param maxColumns typed columns per table at most (Postgres allows 1,600 in all, dropped ones included)
   * @param maxTables tables per event at most
   */
  public record Limits(boolean enabled, int maxColumns, int maxTables) {
    public static Limits of(WarehouseConfig config) {
      return new Limits(config.typedTables(), config.typedMaxColumns(), config.typedMaxTables());
    }
  }

  private final Limits limits;
  /** table → column → type, for the tables this writer has read or made; an absent table is not known. */
  private final Map<String, Map<String, ValueType>> known = new HashMap<>();
  /** Tables that could not be made (the table limit): their events are only in {@code tracks}. */
  private final Set<String> overflowTables = new HashSet<>();

  public TypedTables(Limits limits) {
    this.limits = limits;
  }

  /** Forgets the schema read so far: the next batch reads it again. */
  public void forget() {
    known.clear();
    overflowTables.clear();
  }

  /**
   * Takes the schema lock and makes whatever tables and columns the batch needs.
   *
   * @param events the batch's normalised events, in log order (duplicates of stored events included: they are
   *     filtered out by {@link Batch#insert})
   */
  public Future<Batch> prepare(SqlConnection conn, List<ObjectNode> events) {
    Map<String, List<TypedRow>> byTable = new TreeMap<>(); // sorted: schema changes in one order
    for (ObjectNode event : events) {
      TypedRow row = TypedRow.of(event);
      if (row == null || (!limits.enabled() && row.kind() == Kind.TRACK)) {
        continue;
      }
      if (!limits.enabled()) {
        row = new TypedRow(row.table(), row.kind(), row.messageId(), row.fixed(), Map.of(), List.of());
      }
      byTable.computeIfAbsent(row.table(), t -> new ArrayList<>()).add(row);
    }
    Batch batch = new Batch(byTable);
    if (!limits.enabled() || byTable.isEmpty()) {
      return Future.succeededFuture(batch);
    }
    Map<String, Map<String, Set<ValueType>>> wanted = batch.wantedColumns();
    if (!needsChange(batch, wanted)) {
      return conn.preparedQuery("SELECT pg_advisory_xact_lock_shared($1, $2)").execute(Tuple.of(LOCK_SPACE, LOCK_ID))
          .map(batch);
    }
    return conn.preparedQuery("SELECT pg_advisory_xact_lock($1, $2)").execute(Tuple.of(LOCK_SPACE, LOCK_ID))
        .compose(v -> conn.query("SET LOCAL lock_timeout = '10s'").execute())
        .compose(v -> read(conn, wanted.keySet()))
        .compose(v -> sequentially(wanted.entrySet().stream()
            .map(table -> (Supplier<Future<Void>>) () -> change(conn, table.getKey(), batch.kindOf(table.getKey()),
                table.getValue(), batch.firstRowOf(table.getKey())))
            .toList()))
        .map(batch);
  }

  private boolean needsChange(Batch batch, Map<String, Map<String, Set<ValueType>>> wanted) {
    for (Map.Entry<String, Map<String, Set<ValueType>>> table : wanted.entrySet()) {
      if (overflowTables.contains(table.getKey())) {
        continue;
      }
      Map<String, ValueType> columns = known.get(table.getKey());
      if (columns == null) {
        return true;
      }
      boolean roomLeft = typedColumns(columns, batch.kindOf(table.getKey())) < limits.maxColumns();
      for (Map.Entry<String, Set<ValueType>> column : table.getValue().entrySet()) {
        ValueType has = columns.get(column.getKey());
        if (has == null ? roomLeft && !columns.containsKey(column.getKey()) : widening(has, column.getValue()) != null) {
          return true;
        }
      }
    }
    return false;
  }

  /** The type a column widens to for one of these values, or null when none widens it. */
  private static ValueType widening(ValueType column, Set<ValueType> values) {
    for (ValueType value : values) {
      if (value.into(column) == Fit.WIDEN) {
        return value;
      }
    }
    return null;
  }

  /** A new column's type: the first value's, widened by a later one that widens it. */
  private static ValueType firstWidened(Set<ValueType> values) {
    ValueType type = null;
    for (ValueType value : values) {
      type = type == null || value.into(type) == Fit.WIDEN ? value : type;
    }
    return type;
  }

  private static int typedColumns(Map<String, ValueType> columns, Kind kind) {
    return (int) columns.keySet().stream().filter(c -> !kind.fixedColumns().contains(c)).count();
  }

  /** Reads the tables' columns as they are now (under the exclusive lock). */
  private Future<Void> read(SqlConnection conn, Set<String> tables) {
    return conn.preparedQuery("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relname = ANY($1)
              AND a.attnum > 0 AND NOT a.attisdropped""")
        .execute(Tuple.of(tables.toArray(String[]::new)))
        .map(rows -> {
          tables.forEach(known::remove);
          for (Row row : rows) {
            // A column of a type this mapping never makes (an operator's change) takes no value but its own: null.
            known.computeIfAbsent(row.getString(0), t -> new HashMap<>())
                .put(row.getString(1), ValueType.ofSql(row.getString(2)).orElse(null));
          }
          return null;
        });
  }

  /** Makes the table if it is missing, then its missing columns, then its widenings. */
  private Future<Void> change(SqlConnection conn, String table, Kind kind, Map<String, Set<ValueType>> wanted,
      TypedRow first) {
    if (overflowTables.contains(table)) {
      return Future.succeededFuture();
    }
    Future<Void> exists = Future.succeededFuture();
    if (!known.containsKey(table)) {
      if (kind.migrated()) {
        return Future.failedFuture(new IllegalStateException("table " + table + " is missing: migrations not run?"));
      }
      exists = create(conn, table, first);
    }
    return exists.compose(v -> {
      if (overflowTables.contains(table)) {
        return Future.succeededFuture();
      }
      Map<String, ValueType> columns = known.get(table);
      if (kind == Kind.TRACK && !columns.keySet().containsAll(kind.fixedColumns())) {
        // A table of that name that is not ours (an operator's, from before): never written to; its events stay in
        // tracks, and schema_overflow names it.
        overflowTables.add(table);
        return Future.succeededFuture();
      }
      List<Supplier<Future<Void>>> steps = new ArrayList<>();
      int typedColumns = typedColumns(columns, kind);
      for (Map.Entry<String, Set<ValueType>> column : wanted.entrySet()) {
        String name = column.getKey();
        ValueType has = columns.get(name);
        ValueType type = has == null ? firstWidened(column.getValue()) : widening(has, column.getValue());
        if (!columns.containsKey(name)) {
          if (typedColumns >= limits.maxColumns()) {
            continue; // recorded in schema_overflow by the insert
          }
          typedColumns++;
          columns.put(name, type);
          steps.add(() -> conn.query("ALTER TABLE " + Identifiers.quote(table) + " ADD COLUMN IF NOT EXISTS "
                  + Identifiers.quote(name) + " " + type.sql()).execute()
              .compose(r -> catalog(conn, table, name, type, null, first)));
        } else if (has != null && type != null) {
          ValueType from = columns.put(name, type);
          steps.add(() -> conn.query("ALTER TABLE " + Identifiers.quote(table) + " ALTER COLUMN "
                  + Identifiers.quote(name) + " TYPE " + type.sql() + " USING " + Identifiers.quote(name) + "::"
                  + type.sql()).execute()
              .compose(r -> catalog(conn, table, name, type, from, first)));
        }
      }
      return sequentially(steps);
    });
  }

  private Future<Void> create(SqlConnection conn, String table, TypedRow first) {
    return conn.query("SELECT count(*) FROM schema_tables").execute().compose(count -> {
      if (count.iterator().next().getLong(0) >= limits.maxTables()) {
        overflowTables.add(table);
        return Future.succeededFuture();
      }
      String quoted = Identifiers.quote(table);
      known.put(table, new HashMap<>(Map.of("message_id", ValueType.TEXT)));
      return conn.query("CREATE TABLE IF NOT EXISTS " + quoted + " (message_id text PRIMARY KEY, user_id text,"
              + " anonymous_id text, event text NOT NULL, source_id text, \"timestamp\" timestamptz NOT NULL,"
              + " original_timestamp timestamptz, sent_at timestamptz, received_at timestamptz NOT NULL,"
              + " loaded_at timestamptz NOT NULL DEFAULT clock_timestamp())").execute()
          .compose(r -> conn.preparedQuery("INSERT INTO schema_tables (table_name, event_name, message_id)"
              + " VALUES ($1, $2, $3) ON CONFLICT (table_name) DO NOTHING")
              .execute(Tuple.of(table, first.fixed().path("event").asText(), first.messageId())))
          .compose(r -> read(conn, Set.of(table)));
    });
  }

  private static Future<Void> catalog(SqlConnection conn, String table, String column, ValueType type,
      ValueType widenedFrom, TypedRow first) {
    String path = first.cells().containsKey(column) ? first.cells().get(column).path() : null;
    return conn.preparedQuery("""
            INSERT INTO schema_columns (table_name, column_name, type, source_path, event_name, message_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (table_name, column_name) DO UPDATE SET
              type = EXCLUDED.type,
              widened_from = CASE WHEN $7::text IS NULL THEN schema_columns.widened_from ELSE $7 END,
              widened_at = CASE WHEN $7::text IS NULL THEN schema_columns.widened_at ELSE clock_timestamp() END""")
        .execute(Tuple.of(table, column, type.sql(), path, first.fixed().path("event").asText(null),
            first.messageId(), widenedFrom == null ? null : widenedFrom.sql()))
        .mapEmpty();
  }

  private static Future<Void> sequentially(List<Supplier<Future<Void>>> steps) {
    Future<Void> done = Future.succeededFuture();
    for (Supplier<Future<Void>> step : steps) {
      done = done.compose(v -> step.get());
    }
    return done;
  }

  /** One batch's rows, by table, once the schema fits them. */
  public final class Batch {
    private final Map<String, List<TypedRow>> byTable;

    private Batch(Map<String, List<TypedRow>> byTable) {
      this.byTable = byTable;
    }

    private Kind kindOf(String table) {
      return table.equals("users") ? Kind.USER : byTable.get(table).get(0).kind();
    }

    private TypedRow firstRowOf(String table) {
      return table.equals("users") ? byTable.get("identifies").get(0) : byTable.get(table).get(0);
    }

    /** Per table, each typed column the batch carries and the types of its values, in order. */
    private Map<String, Map<String, Set<ValueType>>> wantedColumns() {
      Map<String, Map<String, Set<ValueType>>> wanted = new TreeMap<>();
      byTable.forEach((table, rows) -> {
        Map<String, Set<ValueType>> columns = new LinkedHashMap<>();
        Map<String, Set<ValueType>> traits = new LinkedHashMap<>();
        for (TypedRow row : rows) {
          row.cells().values().forEach(cell -> columns.computeIfAbsent(cell.column(), c -> new LinkedHashSet<>())
              .add(cell.type()));
          if (row.kind() == Kind.IDENTIFY && row.fixed().hasNonNull("user_id")) {
            row.traitCells().values().forEach(cell -> traits.computeIfAbsent(cell.column(),
                c -> new LinkedHashSet<>()).add(cell.type()));
          }
        }
        wanted.put(table, columns);
        if (!traits.isEmpty()) {
          wanted.put("users", traits);
        }
      });
      return wanted;
    }

    /** Inserts the rows of the events that were new to the warehouse, and their values that fit no column. */
    public Future<Void> insert(SqlConnection conn, Set<String> newMessageIds) {
      return write(conn, newMessageIds, false);
    }

    /**
     * Writes every row of the batch again, replacing what its table holds for the same message id: a rebuild from
     * {@code events} ({@link TypedRebuild}), which is idempotent.
     */
    Future<Void> overwrite(SqlConnection conn) {
      Set<String> all = new HashSet<>();
      byTable.values().forEach(rows -> rows.forEach(row -> all.add(row.messageId())));
      return write(conn, all, true);
    }

    private Future<Void> write(SqlConnection conn, Set<String> newMessageIds, boolean overwrite) {
      ArrayNode discards = JSON.arrayNode();
      Map<String, Integer> overflow = new TreeMap<>();
      Map<String, ObjectNode> users = new LinkedHashMap<>();
      List<Supplier<Future<Void>>> steps = new ArrayList<>();
      byTable.forEach((table, rows) -> {
        if (overflowTables.contains(table)) {
          overflow.merge(table + "\0", (int) rows.stream().filter(r -> newMessageIds.contains(r.messageId()))
              .count(), Integer::sum);
          return;
        }
        Map<String, ValueType> columns = known.getOrDefault(table, Map.of());
        List<ObjectNode> values = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (TypedRow row : rows) {
          if (!newMessageIds.contains(row.messageId())) {
            continue;
          }
          ObjectNode out = row.fixed().deepCopy();
          fill(out, row, row.cells(), table, columns, discards, overflow);
          row.clashes().forEach(clash -> discards.add(discard(row, table, clash, null,
              "the same column as another path of this event")));
          out.fieldNames().forEachRemaining(names::add);
          values.add(out);
          if (row.kind() == Kind.IDENTIFY && row.fixed().hasNonNull("user_id")) {
            ObjectNode user = users.computeIfAbsent(row.fixed().get("user_id").asText(),
                id -> JSON.objectNode().put("id", id));
            fill(user, row, row.traitCells(), "users", known.getOrDefault("users", Map.of()), JSON.arrayNode(),
                new HashMap<>());
          }
        }
        if (!values.isEmpty()) {
          Kind kind = rows.get(0).kind();
          steps.add(() -> insertRows(conn, table, kind, names, values, overwrite));
        }
      });
      if (!users.isEmpty() && users.values().stream().anyMatch(u -> u.size() > 1)) {
        steps.add(() -> updateUsers(conn, users));
      }
      if (!discards.isEmpty()) {
        steps.add(() -> conn.preparedQuery("""
                INSERT INTO schema_discards (message_id, table_name, column_name, source_path, value, value_type,
                                             column_type, reason)
                SELECT message_id, table_name, column_name, source_path, value, value_type, column_type, reason
                FROM jsonb_to_recordset($1::text::jsonb) AS d(message_id text, table_name text, column_name text,
                     source_path text, value jsonb, value_type text, column_type text, reason text)
                ON CONFLICT (message_id, table_name, source_path) DO NOTHING""")
            .execute(Tuple.of(discards.toString())).mapEmpty());
      }
      if (!overflow.isEmpty()) {
        steps.add(() -> recordOverflow(conn, overflow));
      }
      return sequentially(steps);
    }

    /** Puts each cell that fits its column into {@code out}; the others go to discards or overflow. */
    private void fill(ObjectNode out, TypedRow row, Map<String, Cell> cells, String table,
        Map<String, ValueType> columns, ArrayNode discards, Map<String, Integer> overflow) {
      for (Cell cell : cells.values()) {
        if (!columns.containsKey(cell.column())) {
          overflow.merge(table + "\0" + cell.column(), 1, Integer::sum);
          continue;
        }
        ValueType column = columns.get(cell.column());
        if (column != null && cell.type().into(column) == Fit.STORE) {
          out.set(cell.column(), column == ValueType.TEXT && !cell.value().isTextual()
              ? TextNode.valueOf(cell.value().toString()) : cell.value());
        } else {
          discards.add(discard(row, table, cell, column, column == null
              ? "the column's type was changed outside the router"
              : cell.type().sql() + " value in a " + column.sql() + " column"));
        }
      }
    }
  }

  private static ObjectNode discard(TypedRow row, String table, Cell cell, ValueType column, String reason) {
    ObjectNode discard = JSON.objectNode().put("message_id", row.messageId()).put("table_name", table)
        .put("column_name", cell.column()).put("source_path", cell.path()).put("value_type", cell.type().sql())
        .put("column_type", column == null ? null : column.sql()).put("reason", reason);
    discard.set("value", cell.value());
    return discard;
  }

  /**
   * One statement for the rows of a table: a text array per column, unnested side by side ({@code ROWS FROM}, which
   * takes any number of them, where a single {@code unnest} takes 100 at most) and cast to each column's type. About
   * three times faster in Postgres than {@code json_populate_recordset} over the same rows.
   */
  private Future<Void> insertRows(SqlConnection conn, String table, Kind kind, Set<String> columns, List<ObjectNode> rows,
      boolean overwrite) {
    List<String> names = List.copyOf(columns);
    String list = names.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    String onConflict = overwrite ? "DO UPDATE SET " + names.stream().filter(c -> !c.equals("message_id"))
        .map(Identifiers::quote).map(c -> c + " = EXCLUDED." + c).collect(Collectors.joining(", ")) : "DO NOTHING";
    return conn.preparedQuery("INSERT INTO " + Identifiers.quote(table) + " (" + list + ") SELECT "
            + casts(table, kind, names, "u") + " FROM " + unnested(names, "u") + " ON CONFLICT (message_id) "
            + onConflict)
        .execute(columnArrays(table, kind, names, rows)).mapEmpty();
  }

  /** The users' typed trait columns: each batch's latest value of a trait wins; a trait it does not carry stays. */
  private Future<Void> updateUsers(SqlConnection conn, Map<String, ObjectNode> users) {
    Set<String> columns = new LinkedHashSet<>(List.of("id"));
    users.values().forEach(user -> user.fieldNames().forEachRemaining(columns::add));
    List<String> names = List.copyOf(columns);
    String set = names.stream().skip(1).map(Identifiers::quote)
        .map(c -> c + " = coalesce(r." + c + ", u." + c + ")").collect(Collectors.joining(", "));
    return conn.preparedQuery("UPDATE users u SET " + set + " FROM (SELECT " + casts("users", Kind.USER, names, "t")
            + " FROM " + unnested(names, "t") + ") AS r (" + names.stream().map(Identifiers::quote)
            .collect(Collectors.joining(", ")) + ") WHERE u.id = r.id")
        .execute(columnArrays("users", Kind.USER, names, List.copyOf(users.values()))).mapEmpty();
  }

  /** {@code ROWS FROM (unnest($1::text[]), ...) AS alias ("a", ...)} */
  private static String unnested(List<String> names, String alias) {
    StringBuilder from = new StringBuilder("ROWS FROM (");
    for (int i = 1; i <= names.size(); i++) {
      from.append(i > 1 ? ", " : "").append("unnest($").append(i).append("::text[])");
    }
    return from.append(") AS ").append(alias).append(" (")
        .append(names.stream().map(Identifiers::quote).collect(Collectors.joining(", "))).append(')').toString();
  }

  /** Each column of the alias cast from text to the type of its column. */
  private String casts(String table, Kind kind, List<String> names, String alias) {
    return names.stream().map(name -> {
      ValueType type = typeOf(table, kind, name);
      return alias + "." + Identifiers.quote(name) + (type == ValueType.TEXT ? "" : "::" + type.sql());
    }).collect(Collectors.joining(", "));
  }

  private ValueType typeOf(String table, Kind kind, String column) {
    ValueType fixed = kind.fixedTypes().get(column);
    return fixed != null ? fixed : known.getOrDefault(table, Map.of()).get(column);
  }

  /**
   * A text array per column, null where a row has no value: JSON text for a jsonb column (a string too, quoted), the
   * string itself for a string into any other column, and a number's or a boolean's JSON text.
   */
  private Tuple columnArrays(String table, Kind kind, List<String> names, List<ObjectNode> rows) {
    Tuple arrays = Tuple.tuple();
    for (String name : names) {
      boolean json = typeOf(table, kind, name) == ValueType.JSONB;
      String[] values = new String[rows.size()];
      for (int i = 0; i < values.length; i++) {
        JsonNode value = rows.get(i).get(name);
        values[i] = value == null || value.isNull() ? null
            : value.isTextual() && !json ? value.asText() : value.toString();
      }
      arrays.addArrayOfString(values);
    }
    return arrays;
  }

  private static Future<Void> recordOverflow(SqlConnection conn, Map<String, Integer> overflow) {
    ArrayNode rows = JSON.arrayNode();
    overflow.forEach((key, events) -> {
      String[] parts = key.split("\0", -1);
      rows.add(JSON.objectNode().put("table_name", parts[0]).put("column_name", parts[1]).put("events", events));
    });
    return conn.preparedQuery("""
            INSERT INTO schema_overflow (table_name, column_name, events)
            SELECT table_name, column_name, events
            FROM jsonb_to_recordset($1::text::jsonb) AS o(table_name text, column_name text, events bigint)
            ON CONFLICT (table_name, column_name) DO UPDATE SET
              events = schema_overflow.events + EXCLUDED.events, last_seen_at = clock_timestamp()""")
        .execute(Tuple.of(rows.toString())).mapEmpty();
  }

  /** For the admin API and tests: the typed columns this writer knows, by table. */
  Map<String, Map<String, ValueType>> known() {
    return known;
  }
}
