package eventrouter.realtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class WavesTest {
  private record Item(String key, int seq) {
  }

  @Test
  @DisplayName("a wave holds each key once, oldest first; every item comes out once, each key's in order")
  void oneEventPerKeyInOrder() {
    Waves<Item> waves = new Waves<>(Item::key, 16);
    Random random = new Random(7);
    Map<String, Integer> sent = new HashMap<>();
    int total = 5_000;
    for (int i = 0; i < total; i++) {
      String key = "k" + (random.nextInt(10) == 0 ? 0 : random.nextInt(60)); // one hot key among many
      waves.add(new Item(key, sent.merge(key, 1, Integer::sum)));
    }
    Map<String, Integer> seen = new HashMap<>();
    int taken = 0;
    while (!waves.isEmpty()) {
      List<Item> wave = waves.take(key -> false);
      assertTrue(!wave.isEmpty() && wave.size() <= 16, "a wave of " + wave.size());
      Set<String> keys = new HashSet<>();
      for (Item item : wave) {
        assertTrue(keys.add(item.key()), "key " + item.key() + " twice in one wave");
        int previous = seen.getOrDefault(item.key(), 0);
        assertEquals(previous + 1, item.seq(), "key " + item.key() + " in order");
        seen.put(item.key(), item.seq());
      }
      taken += wave.size();
    }
    assertEquals(total, taken);
    assertEquals(sent, seen);
  }

  @Test
  @DisplayName("a busy key's records wait, in order, while the other keys go")
  void busyKeysWait() {
    Waves<Item> waves = new Waves<>(Item::key, 16);
    waves.add(new Item("a", 1));
    waves.add(new Item("b", 1));
    waves.add(new Item("a", 2));
    waves.add(new Item("c", 1));
    assertEquals(List.of(new Item("b", 1), new Item("c", 1)), waves.take(key -> key.equals("a")));
    assertEquals(List.of(), waves.take(key -> key.equals("a")));
    assertEquals(List.of(new Item("a", 1)), waves.take(key -> false));
    assertEquals(List.of(new Item("a", 2)), waves.take(key -> false));
    assertTrue(waves.isEmpty());
  }

  @Test
  @DisplayName("a hot key's backlog does not hold up the other keys: each wave takes them beside it")
  void hotKeyDoesNotBlockOthers() {
    Waves<Item> waves = new Waves<>(Item::key, 128);
    for (int i = 1; i <= 1_000; i++) {
      waves.add(new Item("hot", i));
    }
    List<Item> others = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      others.add(new Item("user-" + i, 1));
      waves.add(others.get(i));
    }
    List<Item> first = waves.take(key -> false);
    assertEquals(51, first.size(), "the hot key's first event and every other user's");
    assertEquals(new Item("hot", 1), first.get(0));
    assertEquals(others, first.subList(1, 51));
    assertEquals(List.of(new Item("hot", 2)), waves.take(key -> false));
  }
}
