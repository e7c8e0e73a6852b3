package eventrouter.log;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/** The settings every reader of the log shares: its own group, offsets committed by hand, from the oldest record. */
public final class LogConsumers {
  private LogConsumers() {
  }

  /**
   * Offsets are committed only once the work behind them is durable ({@link OffsetTracker}); a group without offsets
   * starts at the oldest record, so that a crash before the first commit never skips an acknowledged event.
   *
   * @param fetchMaxWaitMs with fetch.min.bytes=1 a fetch returns as soon as a record arrives; this paces empty fetches
   */
  public static Map<String, String> config(String bootstrap, String groupId, String clientId, int maxPollRecords,
      int fetchMaxWaitMs) {
    return Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ConsumerConfig.GROUP_ID_CONFIG, groupId,
        ConsumerConfig.CLIENT_ID_CONFIG, clientId,
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(maxPollRecords),
        ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, String.valueOf(fetchMaxWaitMs));
  }
}
