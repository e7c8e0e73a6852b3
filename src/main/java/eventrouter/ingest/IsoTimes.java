package eventrouter.ingest;

import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.regex.Pattern;

/**
 * The event timestamps SDKs send, read and written without {@code java.time}'s formatters in the common case. SDKs
 * write {@code 2024-05-01T12:00:00.000Z} (JavaScript's {@code toISOString()}) or an offset such as {@code +02:00}; those
 * are checked by hand here. Every other form goes to the lenient path, which accepts what it always did.
 */
final class IsoTimes {
  /** Some SDKs write the offset as +0000; java.time wants +00:00. */
  private static final Pattern OFFSET_WITHOUT_COLON = Pattern.compile("([+-]\\d{2})(\\d{2})$");
  private static final long SECONDS_PER_DAY = 86_400;
  /** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the years {@link #format} writes by hand. */
  private static final long MIN_FAST_SECOND = -62_135_596_800L;
  private static final long MAX_FAST_SECOND = 253_402_300_800L;
  /** The length of {@code yyyy-MM-ddTHH:mm:ss}. */
  private static final int DATE_TIME_LENGTH = 19;

  private IsoTimes() {
  }

  /**
   * A date-time with a zone offset between years 1 and 9999, as events carry it.
   *
   * @return the instant, or null when the text is not one
   */
  static Instant parse(String text) {
    Instant common = parseCommon(text);
    return common != null ? common : parseLeniently(text);
  }

  /**
   * The forms SDKs send: {@code yyyy-MM-ddTHH:mm:ss}, an optional fraction of 1 to 9 digits, then {@code Z} or
   * {@code ±HH:MM}; ASCII digits, upper-case {@code T} and {@code Z}, years 1 to 9999. Whatever this accepts,
   * {@link OffsetDateTime#parse} accepts too and reads as the same instant.
   *
   * @return the instant, or null when the text has another form (which may still be valid: see {@link #parse})
   */
  static Instant parseCommon(String text) {
    int length = text.length();
    if (length < DATE_TIME_LENGTH + 1 || text.charAt(4) != '-' || text.charAt(7) != '-' || text.charAt(10) != 'T'
        || text.charAt(13) != ':' || text.charAt(16) != ':') {
      return null;
    }
    int year = digits(text, 0, 4);
    int month = digits(text, 5, 2);
    int day = digits(text, 8, 2);
    int hour = digits(text, 11, 2);
    int minute = digits(text, 14, 2);
    int second = digits(text, 17, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > lengthOfMonth(year, month) || hour < 0 || hour > 23
        || minute < 0 || minute > 59 || second < 0 || second > 59) {
      return null; // also when a field held something other than digits
    }
    int at = DATE_TIME_LENGTH;
    int nanos = 0;
    if (text.charAt(at) == '.') {
      int fractionStart = ++at;
      while (at < length && at - fractionStart < 10 && isDigit(text.charAt(at))) {
        nanos = nanos * 10 + (text.charAt(at++) - '0');
      }
      int fractionDigits = at - fractionStart;
      if (fractionDigits == 0 || fractionDigits > 9) {
        return null;
      }
      for (int i = fractionDigits; i < 9; i++) {
        nanos *= 10;
      }
    }
    int offsetSeconds;
    if (at == length - 1 && text.charAt(at) == 'Z') {
      offsetSeconds = 0;
    } else if (at == length - 6 && (text.charAt(at) == '+' || text.charAt(at) == '-') && text.charAt(at + 3) == ':') {
      int offsetHours = digits(text, at + 1, 2);
      int offsetMinutes = digits(text, at + 4, 2);
      if (offsetHours < 0 || offsetMinutes < 0 || offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > 18 * 60
          || (text.charAt(at) == '-' && offsetHours == 0 && offsetMinutes == 0)) {
        return null; // -00:00 and offsets beyond ±18:00 are left to java.time to judge
      }
      offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (text.charAt(at) == '-' ? -1 : 1);
    } else {
      return null;
    }
    long epochDay = LocalDate.of(year, month, day).toEpochDay();
    return Instant.ofEpochSecond(epochDay * SECONDS_PER_DAY + hour * 3600L + minute * 60L + second - offsetSeconds,
        nanos);
  }

  /**
   * Whether {@link #format} gives this text back for the instant {@link #parse} read from it, so that the text can be
   * stored as it was sent: upper-case {@code T}, UTC written as {@code Z}, seconds, and as many fraction digits as
   * {@code ISO_INSTANT} writes (none, 3, 6 or 9). Both parsers take a date of exactly 10 characters in years 1 to 9999
   * and a fraction only after the seconds, so the length and these characters decide it.
   */
  static boolean isCanonical(String text, Instant parsed) {
    int nanos = parsed.getNano();
    int fractionDigits = nanos == 0 ? 0 : nanos % 1_000_000 == 0 ? 3 : nanos % 1_000 == 0 ? 6 : 9;
    int length = DATE_TIME_LENGTH + (fractionDigits == 0 ? 0 : fractionDigits + 1) + 1;
    return text.length() == length && text.charAt(10) == 'T' && text.charAt(length - 1) == 'Z';
  }

  /** Exactly as {@link DateTimeFormatter#ISO_INSTANT} writes it, by hand for years 1 to 9999. */
  static String format(Instant instant) {
    long epochSecond = instant.getEpochSecond();
    if (epochSecond < MIN_FAST_SECOND || epochSecond >= MAX_FAST_SECOND) {
      return DateTimeFormatter.ISO_INSTANT.format(instant);
    }
    long epochDay = Math.floorDiv(epochSecond, SECONDS_PER_DAY);
    int secondOfDay = (int) Math.floorMod(epochSecond, SECONDS_PER_DAY);
    LocalDate date = LocalDate.ofEpochDay(epochDay);
    int nanos = instant.getNano();
    int fractionDigits = nanos == 0 ? 0 : nanos % 1_000_000 == 0 ? 3 : nanos % 1_000 == 0 ? 6 : 9;
    byte[] out = new byte[DATE_TIME_LENGTH + (fractionDigits == 0 ? 0 : fractionDigits + 1) + 1];
    put(out, 0, date.getYear(), 4);
    out[4] = '-';
    put(out, 5, date.getMonthValue(), 2);
    out[7] = '-';
    put(out, 8, date.getDayOfMonth(), 2);
    out[10] = 'T';
    put(out, 11, secondOfDay / 3600, 2);
    out[13] = ':';
    put(out, 14, secondOfDay / 60 % 60, 2);
    out[16] = ':';
    put(out, 17, secondOfDay % 60, 2);
    if (fractionDigits > 0) {
      out[DATE_TIME_LENGTH] = '.';
      int divisor = fractionDigits == 3 ? 1_000_000 : fractionDigits == 6 ? 1_000 : 1;
      put(out, DATE_TIME_LENGTH + 1, nanos / divisor, fractionDigits);
    }
    out[out.length - 1] = 'Z';
    return new String(out, StandardCharsets.ISO_8859_1);
  }

  /** What the router always accepted: ISO-8601 with an offset, +0000 included, between years 1 and 9999. */
  static Instant parseLeniently(String text) {
    try {
      OffsetDateTime parsed = OffsetDateTime.parse(OFFSET_WITHOUT_COLON.matcher(text).replaceFirst("$1:$2"));
      if (parsed.getYear() < 1 || parsed.getYear() > 9999) {
        return null;
      }
      return parsed.toInstant();
    } catch (DateTimeException e) {
      return null;
    }
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** @return the number, or -1 when a character is not an ASCII digit */
  private static int digits(String text, int from, int count) {
    int value = 0;
    for (int i = from; i < from + count; i++) {
      char c = text.charAt(i);
      if (!isDigit(c)) {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  private static int lengthOfMonth(int year, int month) {
    return switch (month) {
      case 2 -> (year & 3) == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28;
      case 4, 6, 9, 11 -> 30;
      default -> 31;
    };
  }

  private static void put(byte[] out, int at, int value, int width) {
    for (int i = at + width - 1; i >= at; i--) {
      out[i] = (byte) ('0' + value % 10);
      value /= 10;
    }
  }
}
