package eventrouter.delivery;

import io.vertx.core.Future;
import java.util.List;

/**
 * How one destination type sends. {@link #send} makes one request holding one or more deliveries and fails with
 * {@link RetryableDeliveryException} or {@link PermanentDeliveryException}; it must complete within the destination's
 * timeout. Implementations keep their clients in fields (Vert.x closes clients that nothing references).
 */
interface Sender {
  Future<Void> send(List<Delivery> batch);

  /** Deliveries per request; 1 sends each alone. */
  default int maxBatch() {
    return 1;
  }

  /** Longest the first delivery of a partial batch waits for more. */
  default int batchMaxMs() {
    return 0;
  }

  Future<Void> close();
}
