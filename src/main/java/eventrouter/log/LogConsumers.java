package eventrouter.log;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * The settings every reader of the log shares: its own group as a static member, offsets committed by hand, from the
 * oldest record.
 */
public final class LogConsumers {
  private LogConsumers() {
  }

  /**
   * Offsets are committed only once the work behind them is durable ({@link OffsetTracker}); a group without offsets
   * starts at the oldest record, so that a crash before the first commit never skips an acknowledged event. Members
   * are static ({@link GroupMember}) on the classic protocol: with the new consumer protocol (KIP-848) a restarted
   * static member was refused its id until the old one timed out, 45 s here (shared/STACK.md).
   *
   * @param clientId unique per consumer in a JVM (Kafka registers a JMX bean by it)
   */
  public static Map<String, String> config(String bootstrap, String groupId, String clientId, GroupMember member,
      int maxPollRecords) {
    return Map.ofEntries(
        Map.entry(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
        Map.entry(ConsumerConfig.GROUP_ID_CONFIG, groupId),
        Map.entry(ConsumerConfig.CLIENT_ID_CONFIG, clientId),
        Map.entry(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic"),
        Map.entry(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, member.id()),
        Map.entry(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(member.sessionTimeoutMs())),
        // A tenth of the session (Kafka asks for a third at most): members hear of a rebalance through their
        // heartbeats, so when a node dies the others rejoin within a second of its session expiring, not three.
        Map.entry(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
            String.valueOf(Math.max(500, member.sessionTimeoutMs() / 10))),
        Map.entry(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false"),
        Map.entry(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
        Map.entry(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(maxPollRecords)),
        // fetch.min.bytes stays 1, so the broker answers a fetch as soon as a record arrives: this bounds only how
        // long it holds a fetch that finds nothing. 10 to 50 ms made every idle consumer ask 20 to 100 times a
        // second, which cost the embedded broker 131 ms of CPU per second with nothing sent; 500 ms, 45 ms
        // (loadtest/bench.sh --cost, BENCHMARKS.md), and no record waits longer for it.
        Map.entry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500"));
  }
}
