package eventrouter.log;

/**
 * Who a reader of the log is in its consumer group: a static member ({@code group.instance.id}) named after its node,
 * its kind and its instance number, so the same name comes back when the node restarts. A restarted member takes its
 * partitions back at once; without it the group waited for the dead member's session to time out (45 s by default)
 * before anyone read them again. The name must be unique among live consumers of a group: two nodes must never share
 * a node id.
 *
 * @param id the static member id, also the consumer's client id
 * @param sessionTimeoutMs how long a member that stopped heartbeating (its node died) keeps its partitions
 */
public record GroupMember(String id, int sessionTimeoutMs) {
  /** @param kind the verticle, such as {@code realtime}; @param instance its number on this node, from 0 */
  public static GroupMember of(String nodeId, String kind, int instance, int sessionTimeoutMs) {
    return new GroupMember(nodeId + "-" + kind + "-" + instance, sessionTimeoutMs);
  }
}
