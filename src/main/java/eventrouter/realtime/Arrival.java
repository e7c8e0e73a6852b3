package eventrouter.realtime;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** An event read from the log, on its way through the real-time path; {@code atMs} is its {@code receivedAt}. */
record Arrival(ObjectNode event, String messageId, long atMs) {

  /**
   * Where its message id is remembered for dedup: its log key ({@code u:<userId>}, else {@code a:<anonymousId>}), so
   * that a client's retry of it, which has the same ids, finds it whatever identity links were made meanwhile.
   */
  String dedupKey() {
    String userId = event.path("userId").asText("");
    return userId.isEmpty() ? "a:" + event.path("anonymousId").asText("") : "u:" + userId;
  }
}
