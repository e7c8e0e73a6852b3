package eventrouter.delivery;

import eventrouter.bus.Addresses;
import eventrouter.config.DestinationConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Pushes to the user's open WebSockets by publishing on {@link Addresses#WEBSOCKET_PUSH}
 * {@code {"ids": [userId, anonymousId], "frame": {"type": "message", "destination", "messageId", "stream",
 * "payload"}}}; whichever ingest instance holds a socket of those ids writes the frame. A publish is delivered as far
 * as delivery is concerned: with no open socket the push is dropped for this channel only.
 */
final class WebSocketSender implements Sender {
  private final Vertx vertx;
  private final String destination;

  WebSocketSender(Vertx vertx, DestinationConfig destination) {
    this.vertx = vertx;
    this.destination = destination.id();
  }

  @Override
  public Future<Void> send(List<Delivery> batch) {
    for (Delivery d : batch) {
      JsonArray ids = new JsonArray();
      if (d.userId != null) {
        ids.add(d.userId);
      }
      if (d.anonymousId != null) {
        ids.add(d.anonymousId);
      }
      vertx.eventBus().publish(Addresses.WEBSOCKET_PUSH, new JsonObject().put("ids", ids).put("frame", new JsonObject()
          .put("type", "message")
          .put("destination", destination)
          .put("messageId", d.messageId)
          .put("stream", d.stream.wireName())
          .put("payload", Json.decodeValue(d.payload))));
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }
}
