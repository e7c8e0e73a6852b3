package eventrouter.ingest;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** Generates message ids for events that arrive without one. */
final class MessageIds {
  private MessageIds() {
  }

  /**
   * A UUIDv7 (RFC 9562): time-ordered, so generated ids index well in the warehouse. ThreadLocalRandom is used
   * rather than UUID.randomUUID(), whose SecureRandom serialises every ingest thread on one lock.
   */
  static String next(long epochMillis) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long mostSignificant = (epochMillis << 16) | 0x7000L | (random.nextLong() & 0x0FFFL);
    long leastSignificant = (random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
    return new UUID(mostSignificant, leastSignificant).toString();
  }
}
