package eventrouter.warehouse;

import com.fasterxml.jackson.databind.node.ObjectNode;
import eventrouter.warehouse.typed.TypedRow;
import eventrouter.warehouse.typed.TypedTables;
import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes batches of log records to Postgres. A batch that Postgres refuses for the content of some record is split,
 * so that one bad record lands in {@code warehouse_rejects} while its neighbours are stored. Every other failure
 * (connection, timeout, shutdown) fails the write, and the caller retries the whole batch.
 */
final class WarehouseWriter {
  private static final Logger LOG = LoggerFactory.getLogger(WarehouseWriter.class);
  /** SQLSTATE classes that blame the data rather than the server: data exceptions, integrity, program limits. */
  private static final Set<String> CONTENT_ERROR_CLASSES = Set.of("22", "23", "54");

  /** One log record: its position in Kafka, for rejects, and the normalised event. */
  record Record(String topic, int partition, long offset, String json) {
  }

  private final Pool pool;
  private final String signalsTopic;
  private final String rejectsTopic;
  private final TypedTables typed;

  WarehouseWriter(Pool pool, String signalsTopic, String rejectsTopic, TypedTables typed) {
    this.pool = pool;
    this.signalsTopic = signalsTopic;
    this.rejectsTopic = rejectsTopic;
    this.typed = typed;
  }

  /** @return the user ids of the events that were new to the warehouse */
  Future<Set<String>> write(List<Record> batch) {
    return insert(batch).recover(error -> {
      typed.forget(); // in case an operator changed a typed table: read the schema again
      return isContentError(error) ? writeOneByOne(batch) : Future.failedFuture(error);
    });
  }

  /** Events, signals and ingest's rejects of one batch, in one transaction. */
  private Future<Set<String>> insert(List<Record> batch) {
    String[] events = jsonOf(batch, topic -> !topic.equals(signalsTopic) && !topic.equals(rejectsTopic));
    String[] signals = jsonOf(batch, signalsTopic::equals);
    String[] rejects = jsonOf(batch, rejectsTopic::equals);
    return pool.withTransaction(conn -> {
      Future<Set<String>> newEventsUsers = events.length == 0 ? Future.succeededFuture(Set.of())
          : typed.prepare(conn, parsed(events)).compose(typedBatch -> conn.preparedQuery(WarehouseSql.INSERT_BATCH)
              .execute(Tuple.tuple().addArrayOfString(events))
              .compose(rows -> {
                Row row = rows.iterator().next();
                return typedBatch.insert(conn, Set.of(row.getArrayOfStrings(1)))
                    .map(v -> Set.of(row.getArrayOfStrings(0)));
              }));
      return newEventsUsers
          .compose(users -> insertAll(conn, WarehouseSql.INSERT_SIGNALS, signals).map(users))
          .compose(users -> insertAll(conn, WarehouseSql.INSERT_INGEST_REJECTS, rejects).map(users));
    });
  }

  /**
   * The events as trees, for the typed tables. One that is not a JSON object is left out: Postgres refuses it in
   * the same transaction, and it ends in warehouse_rejects.
   */
  private static List<ObjectNode> parsed(String[] events) {
    List<ObjectNode> trees = new ArrayList<>(events.length);
    for (String event : events) {
      ObjectNode tree = TypedRow.parse(event);
      if (tree != null) {
        trees.add(tree);
      }
    }
    return trees;
  }

  private static String[] jsonOf(List<Record> batch, Predicate<String> topic) {
    return batch.stream().filter(r -> topic.test(r.topic())).map(Record::json).toArray(String[]::new);
  }

  private static Future<Void> insertAll(SqlConnection conn, String statement, String[] records) {
    return records.length == 0 ? Future.succeededFuture()
        : conn.preparedQuery(statement).execute(Tuple.tuple().addArrayOfString(records)).mapEmpty();
  }

  private Future<Set<String>> writeOneByOne(List<Record> batch) {
    Set<String> users = new HashSet<>();
    Future<Void> done = Future.succeededFuture();
    for (Record record : batch) {
      done = done.compose(v -> insert(List.of(record))
          .recover(error -> isContentError(error) ? reject(record, error).map(Set.of()) : Future.failedFuture(error))
          .map(users::addAll).mapEmpty());
    }
    return done.map(users);
  }

  private Future<Void> reject(Record record, Throwable error) {
    LOG.error("Postgres refused the log record at {}-{}@{}; it is kept in warehouse_rejects: {}", record.topic(),
        record.partition(), record.offset(), error.getMessage());
    return pool.preparedQuery(WarehouseSql.INSERT_REJECT)
        .execute(Tuple.of(record.topic(), record.partition(), record.offset(), record.json(), error.getMessage()))
        .mapEmpty();
  }

  private static boolean isContentError(Throwable error) {
    return error instanceof PgException pg && pg.getSqlState() != null
        && CONTENT_ERROR_CLASSES.contains(pg.getSqlState().substring(0, 2));
  }
}
