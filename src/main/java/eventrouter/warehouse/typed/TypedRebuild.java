package eventrouter.warehouse.typed;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds the typed tables from {@code events}: what an operator runs after turning typed tables on for an existing
 * warehouse, or after a release that changes how names map. One job at a time per node, in the background, off the
 * ingest path:
 * <ul>
 *   <li>{@code POST /admin/warehouse/rebuild} {@code {"from": ISO time, "batchSize": n}} (both optional): 202 and
 *       the job's state; 409 while one runs;</li>
 *   <li>{@code GET /admin/warehouse/rebuild}: the state of the latest job.</li>
 * </ul>
 * It reads {@code events} in {@code received_at} order, page by page, and writes each page in one transaction through
 * {@link TypedTables} as the live writer does (same schema lock), replacing each event's typed row: running it
 * twice, or beside the live writer, leaves the same rows.
 */
public final class TypedRebuild {
  private static final Logger LOG = LoggerFactory.getLogger(TypedRebuild.class);
  private static final int DEFAULT_BATCH = 500;
  private static final int MAX_BATCH = 5_000;
  private static final String PAGE = """
      SELECT message_id, received_at, raw::text FROM events
      WHERE type IN ('track', 'identify', 'page', 'screen') AND (received_at, message_id) > ($1, $2)
      ORDER BY received_at, message_id
      LIMIT $3""";

  private final Pool pool;
  private final TypedTables typed;
  private JsonObject state = new JsonObject().put("state", "idle");

  /** @param limits as the live writer's, so that a rebuild makes the tables and columns it would */
  public TypedRebuild(Pool pool, TypedTables.Limits limits) {
    this.pool = pool;
    this.typed = new TypedTables(limits);
  }

  public void mount(Router router) {
    router.get("/admin/warehouse/rebuild").handler(ctx -> respond(ctx, 200, state.copy()));
    router.post("/admin/warehouse/rebuild").handler(BodyHandler.create(false).setBodyLimit(4096))
        .handler(this::start);
  }

  private void start(RoutingContext ctx) {
    if ("running".equals(state.getString("state"))) {
      respond(ctx, 409, state.copy().put("error", "a rebuild is running"));
      return;
    }
    OffsetDateTime from;
    int batchSize;
    try {
      JsonObject body = ctx.body().isEmpty() ? new JsonObject() : ctx.body().asJsonObject();
      from = body.getString("from") == null ? OffsetDateTime.ofInstant(Instant.EPOCH, ZoneOffset.UTC)
          : OffsetDateTime.parse(body.getString("from"));
      batchSize = body.getInteger("batchSize", DEFAULT_BATCH);
    } catch (DecodeException | ClassCastException | DateTimeParseException e) {
      respond(ctx, 400, new JsonObject().put("error", "the body is {\"from\": ISO-8601 time, \"batchSize\": 1.."
          + MAX_BATCH + "}, both optional: " + e.getMessage()));
      return;
    }
    if (batchSize < 1 || batchSize > MAX_BATCH) {
      respond(ctx, 400, new JsonObject().put("error", "batchSize must be from 1 to " + MAX_BATCH + " (got "
          + batchSize + ")"));
      return;
    }
    state = new JsonObject().put("state", "running").put("from", from.toString()).put("batchSize", batchSize)
        .put("events", 0L).put("startedAt", Instant.now().toString());
    typed.forget(); // the schema may have changed since the last job
    JsonObject job = state;
    Promise<Void> done = Promise.promise();
    page(from, "", batchSize, job, done);
    done.future().onComplete(ar -> {
      job.put("finishedAt", Instant.now().toString());
      if (ar.succeeded()) {
        job.put("state", "done");
        LOG.info("typed tables rebuilt from events: {}", job.encode());
      } else {
        typed.forget();
        job.put("state", "failed").put("error", String.valueOf(ar.cause().getMessage()));
        LOG.error("the typed tables' rebuild failed (run it again: it is idempotent): {}", job.encode());
      }
    });
    respond(ctx, 202, state.copy());
  }

  /** One page in one transaction; the next starts from its completion, not a composed chain, which would grow. */
  private void page(OffsetDateTime after, String afterId, int batchSize, JsonObject job, Promise<Void> done) {
    pool.withTransaction(conn -> conn.preparedQuery(PAGE).execute(Tuple.of(after, afterId, batchSize))
            .compose(rows -> typed.prepare(conn, parse(rows)).compose(batch -> batch.overwrite(conn)).map(rows)))
        .onFailure(done::fail)
        .onSuccess(rows -> {
          job.put("events", job.getLong("events") + rows.size());
          if (rows.size() < batchSize) {
            done.complete();
            return;
          }
          Row last = null;
          for (Row row : rows) {
            last = row;
          }
          job.put("cursor", last.getOffsetDateTime(1).toString());
          page(last.getOffsetDateTime(1), last.getString(0), batchSize, job, done);
        });
  }

  private static List<ObjectNode> parse(RowSet<Row> rows) {
    List<ObjectNode> events = new ArrayList<>(rows.size());
    for (Row row : rows) {
      ObjectNode event = TypedRow.parse(row.getString(2));
      if (event != null) {
        events.add(event);
      }
    }
    return events;
  }

  private static void respond(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.encode());
  }
}
