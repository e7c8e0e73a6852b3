package eventrouter.bus;

/**
 * Every event-bus address, declared once. Names follow {@code router.<capability>.<verb>}. On a clustered event bus
 * a published message reaches every node, which is how a push finds the node that holds the user's socket.
 */
public final class Addresses {
  private Addresses() {
  }

  /**
   * Push a frame to every open WebSocket of a user. Published (not sent): each ingest instance on each node delivers
   * it to the sockets it holds for any of the ids, and an instance with none drops it. No reply.
   *
   * <p>Payload: {@code {"ids": [userId, anonymousId, ...], "frame": {...}}}, where {@code frame} is written to the
   * socket as JSON text: a signal ({@code "type":"signal"}) from the real-time path, or a delivery to a
   * {@code websocket} destination ({@code "type":"message"}).
   */
  public static final String WEBSOCKET_PUSH = "router.websocket.push";

  /**
   * Users whose events the warehouse has just stored, so their computed traits may have changed. Published by each
   * warehouse writer after every batch with new events; the traits verticle of the same node computes them again.
   * No reply.
   *
   * <p>Payload: a JSON array of user ids.
   */
  public static final String TRAITS_USERS_CHANGED = "router.traits.changed";
}
