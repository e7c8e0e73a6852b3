package eventrouter.bus;

/**
 * Every event-bus address of the router, each declared once with its payload and its reply. Addresses are named
 * {@code router.<capability>.<verb>}.
 */
public final class Addresses {
  private Addresses() {
  }

  /**
   * Push a delivery to the open WebSockets of one user. Published (not sent) by the delivery verticle for every
   * delivery to a {@code websocket} destination, so that every ingest instance, and later every node, holding a socket
   * of that user gets it.
   *
   * <p>Payload: a JSON object
   * <pre>{@code
   * {"userId": "u-1" | null, "anonymousId": "a-1" | null,   // whose sockets: userId first, else anonymousId
   *  "kind": "message" | "signal",                          // the frame type to push: {"type": kind, ...}
   *  "destination": "<destination id>", "messageId": "<event or signal messageId>",
   *  "payload": {...}}                                      // the destination's payload for this event
   * }</pre>
   *
   * <p>Reply: none (publish). A consumer with no open socket for that user drops the push; delivery counts a publish
   * as delivered, so "no open socket" costs that channel only, never another destination.
   */
  public static final String WEBSOCKET_PUSH = "router.websocket.push";
}
