package eventrouter.realtime;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Polled records waiting for the real-time path, taken a wave at a time: a wave holds at most one record per key (a
 * user's events each see the state the one before left), in the order they were polled, and a key's later records
 * wait for a later wave. A key the caller says is busy (its previous event is still in flight) is not taken at all.
 * Different users' events share a wave, and so one Redis call. Used from one event loop.
 */
final class Waves<T> {
  /** How far into the queue a wave looks for keys it does not hold yet; bounds the work of one take. */
  private static final int SCAN_LIMIT = 4_096;

  private final LinkedList<T> waiting = new LinkedList<>();
  private final Function<T, String> keyOf;
  private final int maxWave;

  Waves(Function<T, String> keyOf, int maxWave) {
    this.keyOf = keyOf;
    this.maxWave = maxWave;
  }

  void add(T item) {
    waiting.add(item);
  }

  boolean isEmpty() {
    return waiting.isEmpty();
  }

  /**
   * The next wave: the oldest waiting record of each key that is not busy, up to the wave's size; empty when none
   * can go.
   */
  List<T> take(Predicate<String> busy) {
    List<T> wave = new ArrayList<>(Math.min(maxWave, waiting.size()));
    Set<String> keys = new HashSet<>();
    Iterator<T> records = waiting.iterator();
    int scanned = 0;
    while (records.hasNext() && wave.size() < maxWave && scanned++ < SCAN_LIMIT) {
      T record = records.next();
      String key = keyOf.apply(record);
      if (keys.add(key) && !busy.test(key)) {
        wave.add(record);
        records.remove();
      }
    }
    return wave;
  }
}
