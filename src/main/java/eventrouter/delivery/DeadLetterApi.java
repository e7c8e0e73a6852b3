package eventrouter.delivery;

import io.vertx.core.Future;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The dead-letter admin API, mounted under {@code /admin} (so behind the bearer token):
 * <ul>
 *   <li>{@code GET /admin/dead-letters?destination=ID[&after=ID][&limit=N]}: oldest first, each with its
 *       messageId;</li>
 *   <li>{@code POST /admin/dead-letters/replay} with {@code {"destination":ID, "all":true | "ids":[...] |
 *       "messageIds":[...] | "from":ISO, "to":ISO}}: moves them back into the retry store, due now;</li>
 *   <li>{@code DELETE /admin/dead-letters/{id}}: discards one.</li>
 * </ul>
 */
public final class DeadLetterApi {
  private static final int DEFAULT_LIMIT = 100;
  private static final int MAX_LIMIT = 1_000;
  private static final long QUERY_TIMEOUT_MS = 10_000;
  private static final Set<String> REPLAY_FIELDS = Set.of("destination", "all", "ids", "messageIds", "from", "to");

  private final Pool pool;
  private final Set<String> destinations;

  /** @param destinations the configured destination ids: replay is refused for any other */
  public DeadLetterApi(Pool pool, Set<String> destinations) {
    this.pool = pool;
    this.destinations = Set.copyOf(destinations);
  }

  public void mount(Router router) {
    router.get("/admin/dead-letters").handler(this::list);
    router.post("/admin/dead-letters/replay").handler(BodyHandler.create(false).setBodyLimit(1024 * 1024))
        .handler(this::replay);
    router.delete("/admin/dead-letters/:id").handler(this::discard);
  }

  private void list(RoutingContext ctx) {
    String destination = ctx.queryParams().get("destination");
    long after;
    int limit;
    try {
      after = Long.parseLong(ctx.queryParams().contains("after") ? ctx.queryParams().get("after") : "0");
      limit = Integer.parseInt(ctx.queryParams().contains("limit") ? ctx.queryParams().get("limit")
          : String.valueOf(DEFAULT_LIMIT));
    } catch (NumberFormatException e) {
      respond(ctx, 400, error("after and limit must be integers"));
      return;
    }
    if (limit < 1 || limit > MAX_LIMIT) {
      respond(ctx, 400, error("limit must be from 1 to " + MAX_LIMIT + " (got " + limit + ")"));
      return;
    }
    query(DeliverySql.LIST_DEAD_LETTERS, Tuple.of(destination, after, limit))
        .map(rows -> {
          JsonArray list = new JsonArray();
          for (Row row : rows) {
            list.add(toJson(row));
          }
          return new JsonObject().put("deadLetters", list);
        })
        .onSuccess(body -> respond(ctx, 200, body))
        .onFailure(e -> respond(ctx, 503, error("could not read dead letters: " + e.getMessage())));
  }

  private void replay(RoutingContext ctx) {
    JsonObject body;
    try {
      body = ctx.body().asJsonObject();
    } catch (DecodeException | ClassCastException e) {
      body = null;
    }
    if (body == null) {
      respond(ctx, 400, error("the body must be a JSON object {\"destination\": id, and \"all\": true, \"ids\": [...],"
          + " \"messageIds\": [...] or \"from\"/\"to\": ISO times}"));
      return;
    }
    for (String field : body.fieldNames()) {
      if (!REPLAY_FIELDS.contains(field)) {
        respond(ctx, 400, error("unknown field " + field + " (known: " + REPLAY_FIELDS + ")"));
        return;
      }
    }
    String destination = body.getValue("destination") instanceof String s ? s : null;
    if (destination == null || !destinations.contains(destination)) {
      respond(ctx, 400, error("destination must name a configured destination (got " + body.getValue("destination")
          + "; configured: " + destinations + ")"));
      return;
    }
    Tuple params;
    try {
      boolean all = Boolean.TRUE.equals(body.getValue("all"));
      Long[] ids = body.getJsonArray("ids", new JsonArray()).stream().map(v -> ((Number) v).longValue())
          .toArray(Long[]::new);
      String[] messageIds = body.getJsonArray("messageIds", new JsonArray()).stream().map(v -> (String) v)
          .toArray(String[]::new);
      OffsetDateTime from = time(body.getString("from"));
      OffsetDateTime to = time(body.getString("to"));
      if (!all && ids.length == 0 && messageIds.length == 0 && from == null && to == null) {
        respond(ctx, 400, error("say which dead letters to replay: \"all\": true, \"ids\", \"messageIds\" or"
            + " \"from\"/\"to\""));
        return;
      }
      params = Tuple.from(new Object[] {destination, all, ids, messageIds, from, to});
    } catch (ClassCastException | DateTimeParseException e) {
      respond(ctx, 400, error("ids must be integers, messageIds strings, and from/to ISO-8601 times: "
          + e.getMessage()));
      return;
    }
    query(DeliverySql.REPLAY, params)
        .map(rows -> {
          JsonArray replayed = new JsonArray();
          rows.forEach(row -> replayed.add(row.getString(0)));
          return new JsonObject().put("destination", destination).put("replayed", replayed.size())
              .put("messageIds", replayed);
        })
        .onSuccess(result -> respond(ctx, 200, result))
        .onFailure(e -> respond(ctx, 503, error("could not replay: " + e.getMessage())));
  }

  private void discard(RoutingContext ctx) {
    long id;
    try {
      id = Long.parseLong(ctx.pathParam("id"));
    } catch (NumberFormatException e) {
      respond(ctx, 400, error("the id must be an integer (got " + ctx.pathParam("id") + ")"));
      return;
    }
    query(DeliverySql.DISCARD_DEAD_LETTER, Tuple.of(id))
        .onSuccess(rows -> {
          if (rows.rowCount() == 0) {
            respond(ctx, 404, error("no dead letter " + id));
          } else {
            ctx.response().setStatusCode(204).end();
          }
        })
        .onFailure(e -> respond(ctx, 503, error("could not discard: " + e.getMessage())));
  }

  private Future<io.vertx.sqlclient.RowSet<Row>> query(String sql, Tuple params) {
    return pool.preparedQuery(sql).execute(params).timeout(QUERY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
  }

  private static JsonObject toJson(Row row) {
    return new JsonObject()
        .put("id", row.getLong("id"))
        .put("destination", row.getString("destination"))
        .put("messageId", row.getString("message_id"))
        .put("stream", row.getString("stream"))
        .put("userId", row.getString("user_id"))
        .put("anonymousId", row.getString("anonymous_id"))
        .put("payload", io.vertx.core.json.Json.decodeValue(row.getString("payload")))
        .put("attempts", row.getInteger("attempts"))
        .put("lastStatus", row.getInteger("last_status"))
        .put("lastError", row.getString("last_error"))
        .put("receivedAt", text(row.getOffsetDateTime("received_at")))
        .put("firstAttemptAt", text(row.getOffsetDateTime("first_attempt_at")))
        .put("lastAttemptAt", text(row.getOffsetDateTime("last_attempt_at")))
        .put("deadAt", text(row.getOffsetDateTime("dead_at")));
  }

  private static String text(OffsetDateTime time) {
    return time == null ? null : time.toInstant().toString();
  }

  private static OffsetDateTime time(String text) {
    return text == null ? null : OffsetDateTime.parse(text);
  }

  private static JsonObject error(String message) {
    return new JsonObject().put("success", false).put("error", message);
  }

  private static void respond(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.toBuffer());
  }
}
