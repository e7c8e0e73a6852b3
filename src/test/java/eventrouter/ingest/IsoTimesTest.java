package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class IsoTimesTest {
  /** The forms SDKs send, which the hand-checked path reads. */
  private static final List<String> COMMON = List.of(
      "2026-11-24T12:00:00Z",
      "2026-11-24T12:00:00.1Z",
      "2026-11-24T12:00:00.12Z",
      "2026-11-24T12:00:00.123Z",
      "2026-11-24T12:00:00.000Z",
      "2026-11-24T12:00:00.123456Z",
      "2026-11-24T12:00:00.123456789Z",
      "2026-11-24T12:00:00.120Z",
      "2026-11-24T13:00:00+01:00",
      "2026-11-24T06:30:00.250-05:30",
      "2026-11-24T12:00:00+00:00",
      "2024-02-29T23:59:59.999Z",
      "2000-02-29T00:00:00Z",
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999999999Z",
      "9999-12-31T23:59:59+18:00",
      "0001-01-01T00:00:00-18:00",
      "1970-01-01T00:00:00Z");

  /** Other forms the router has always accepted: the lenient path reads them, as before. */
  private static final List<String> LENIENT = List.of(
      "2026-11-24T13:00:00.000+0000",
      "2026-11-24T13:00:00+0130",
      "2026-11-24T13:00:00-0800",
      "2026-11-24T12:00Z",
      "2026-11-24t12:00:00z",
      "2026-11-24T12:00:00.123z",
      "2026-11-24T12:00:00-00:00",
      "2026-11-24T12:00:00+01:00:30",
      "2026-11-24T12:00:00+01",
      "2026-11-24T12:00:00.Z");

  /** Never accepted, by either path. */
  private static final List<String> REFUSED = List.of(
      "2026-11-24T12:00:00",
      "2026-11-24T12:00:00.123",
      "2026-11-24",
      "yesterday",
      "",
      "2023-02-29T12:00:00Z",
      "1900-02-29T12:00:00Z",
      "2026-04-31T12:00:00Z",
      "2026-13-01T12:00:00Z",
      "2026-00-01T12:00:00Z",
      "2026-11-00T12:00:00Z",
      "2026-11-24T24:00:00Z",
      "2026-11-24T12:60:00Z",
      "2026-11-24T12:00:60Z",
      "2026-11-24T12:00:00.1234567890Z",
      "2026-11-24T12:00:00+18:01",
      "2026-11-24T12:00:00+19:00",
      "2026-11-24T12:00:00+01:60",
      "0000-01-01T00:00:00Z",
      "+10000-01-01T00:00:00Z",
      "2026-11-24 12:00:00Z",
      "2026-11-24T12:00:00ZZ",
      "2026-11-24T1２:00:00Z",
      " 2026-11-24T12:00:00Z");

  @Test
  @DisplayName("the common forms take the hand-checked path and read as java.time reads them")
  void commonForms() {
    for (String text : COMMON) {
      Instant fast = IsoTimes.parseCommon(text);
      assertNotNull(fast, text);
      assertEquals(IsoTimes.parseLeniently(text), fast, text);
      assertEquals(fast, IsoTimes.parse(text), text);
    }
    assertEquals(Instant.parse("2026-11-24T12:00:00Z"), IsoTimes.parse("2026-11-24T13:00:00+01:00"));
    assertEquals(Instant.parse("2026-11-24T12:00:00.250Z"), IsoTimes.parse("2026-11-24T06:30:00.250-05:30"));
  }

  @Test
  @DisplayName("every other form the router accepted (+0000, no seconds, lower case, -00:00, ...) still reads the same")
  void lenientForms() {
    for (String text : LENIENT) {
      assertNull(IsoTimes.parseCommon(text), text + " is left to java.time");
      assertNotNull(IsoTimes.parseLeniently(text), text + " was accepted before");
      assertEquals(IsoTimes.parseLeniently(text), IsoTimes.parse(text), text);
    }
    assertEquals(Instant.parse("2026-11-24T13:00:00Z"), IsoTimes.parse("2026-11-24T13:00:00.000+0000"));
  }

  @Test
  @DisplayName("what was refused is still refused: no offset, impossible dates and times, years outside 1 to 9999")
  void refusedForms() {
    for (String text : REFUSED) {
      assertNull(IsoTimes.parseCommon(text), text);
      assertNull(IsoTimes.parseLeniently(text), text + " was refused before");
      assertNull(IsoTimes.parse(text), text);
    }
  }

  @Test
  @DisplayName("random texts in the common shape read as java.time reads them, or go to java.time")
  void randomCommonShapes() {
    Random random = new Random(11);
    for (int i = 0; i < 50_000; i++) {
      StringBuilder text = new StringBuilder()
          .append(digits(random, 4, random.nextInt(10) == 0 ? 10_000 : 3_000)).append('-')
          .append(digits(random, 2, 14)).append('-')
          .append(digits(random, 2, 33)).append('T')
          .append(digits(random, 2, 25)).append(':')
          .append(digits(random, 2, 61)).append(':')
          .append(digits(random, 2, 61));
      int fraction = random.nextInt(12) - 1;
      if (fraction >= 0) {
        text.append('.');
        for (int d = 0; d < fraction; d++) {
          text.append((char) ('0' + random.nextInt(10)));
        }
      }
      switch (random.nextInt(4)) {
        case 0 -> text.append('Z');
        case 1 -> text.append(random.nextBoolean() ? '+' : '-').append(digits(random, 2, 20)).append(':')
            .append(digits(random, 2, 61));
        case 2 -> text.append(random.nextBoolean() ? '+' : '-').append(digits(random, 2, 20))
            .append(digits(random, 2, 61));
        default -> {
        }
      }
      String sent = text.toString();
      Instant fast = IsoTimes.parseCommon(sent);
      Instant lenient = IsoTimes.parseLeniently(sent);
      if (fast != null) {
        assertEquals(lenient, fast, sent);
      }
      assertEquals(lenient, IsoTimes.parse(sent), sent);
    }
  }

  @Test
  @DisplayName("timestamps are written exactly as ISO_INSTANT writes them, for every year and fraction")
  void format() {
    Random random = new Random(5);
    long min = Instant.parse("0001-01-01T00:00:00Z").getEpochSecond();
    long max = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond();
    for (int i = 0; i < 50_000; i++) {
      long second = min + (long) (random.nextDouble() * (max - min));
      int nanos = switch (random.nextInt(5)) {
        case 0 -> 0;
        case 1 -> random.nextInt(1000) * 1_000_000;
        case 2 -> random.nextInt(1_000_000) * 1_000;
        default -> random.nextInt(1_000_000_000);
      };
      Instant instant = Instant.ofEpochSecond(second, nanos);
      assertEquals(DateTimeFormatter.ISO_INSTANT.format(instant), IsoTimes.format(instant));
    }
    for (String text : List.of("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1969-12-31T23:59:59.1Z",
        "+10000-01-01T00:00:00Z", "-0001-06-01T00:00:00Z", "0000-01-01T00:00:00Z")) {
      Instant instant = Instant.parse(text);
      assertEquals(DateTimeFormatter.ISO_INSTANT.format(instant), IsoTimes.format(instant), text);
    }
  }

  @Test
  @DisplayName("a timestamp sent in the stored form is kept as sent; any other is written again")
  void canonical() {
    for (String text : List.of("2026-11-24T12:00:00Z", "2026-11-24T12:00:00.123Z", "2026-11-24T12:00:00.120Z",
        "2026-11-24T12:00:00.123456Z", "2026-11-24T12:00:00.123456789Z")) {
      assertTrue(IsoTimes.isCanonical(text, IsoTimes.parse(text)), text);
      assertEquals(text, IsoTimes.format(IsoTimes.parse(text)));
    }
    for (String text : List.of("2026-11-24T12:00:00.000Z", "2026-11-24T12:00:00.12Z", "2026-11-24T12:00:00.1230Z",
        "2026-11-24T13:00:00+01:00", "2026-11-24T12:00:00+00:00", "2026-11-24t12:00:00Z", "2026-11-24T12:00:00z",
        "2026-11-24T12:00:00.000+0000", "2026-11-24T12:00Z")) {
      Instant parsed = IsoTimes.parse(text);
      assertFalse(IsoTimes.isCanonical(text, parsed), text);
      assertFalse(text.equals(IsoTimes.format(parsed)), text);
    }
    for (String text : COMMON) {
      Instant parsed = IsoTimes.parse(text);
      assertEquals(IsoTimes.format(parsed).equals(text), IsoTimes.isCanonical(text, parsed), text);
    }
    for (String text : LENIENT) {
      Instant parsed = IsoTimes.parse(text);
      assertEquals(IsoTimes.format(parsed).equals(text), IsoTimes.isCanonical(text, parsed), text);
    }
  }

  private static String digits(Random random, int width, int bound) {
    String value = Integer.toString(random.nextInt(bound));
    return "0".repeat(Math.max(0, width - value.length())) + value;
  }
}
