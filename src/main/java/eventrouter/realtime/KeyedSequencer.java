package eventrouter.realtime;

import io.vertx.core.Future;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs work for one key strictly in order and different keys concurrently: one user's events stay in order while a
 * very active user holds up only its own queue. Used from a single event loop.
 */
final class KeyedSequencer {
  private final Map<String, Future<Void>> tails = new HashMap<>();

  Future<Void> submit(String key, Supplier<Future<Void>> work) {
    Future<Void> previous = tails.get(key);
    Future<Void> next = previous == null ? work.get() : previous.transform(ar -> work.get());
    tails.put(key, next);
    next.onComplete(ar -> tails.remove(key, next));
    return next;
  }

  int activeKeys() {
    return tails.size();
  }
}
