package eventrouter.warehouse.typed;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The column type a JSON value asks for, and what a value does to a column that already has a type.
 *
 * <p>Inference: {@code true}/{@code false} → boolean; a whole number that fits 64 bits → bigint; any other number →
 * numeric; a string in ISO 8601 date-time form with a zone ({@code 2026-12-03T20:00:00.123Z}) → timestamptz; any
 * other string → text; an array → jsonb. Objects are flattened into columns, never a value; nulls ask for nothing.
 *
 * <p>A value meets a column ({@link #into}): the same type is stored as is. A column never narrows and is never
 * rewritten for a value it can hold: bigint into numeric, any scalar into text (its JSON text, or the timestamp as
 * sent), anything into jsonb. Two widenings change the column, once each: bigint → numeric when a fraction arrives,
 * and timestamptz → text when a string that is not a timestamp arrives. Anything else (text into a number, a number
 * into boolean, ...) is a conflict: the row is stored with that column null, and the value is kept in
 * {@code schema_discards}. A batch never fails over a type.
 */
public enum ValueType {
  BOOLEAN("boolean"),
  BIGINT("bigint"),
  NUMERIC("numeric"),
  TIMESTAMPTZ("timestamp with time zone"),
  TEXT("text"),
  JSONB("jsonb");

  /** Strictly the RFC 3339 shape that Postgres and Java read alike: date, 'T', time, fraction, zone. */
  private static final Pattern TIMESTAMP = Pattern.compile(
      "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})");

  private static final int MAX_OFFSET_SECONDS = 16 * 3600;

  private final String sql;

  ValueType(String sql) {
    this.sql = sql;
  }

  /** As Postgres names it in {@code format_type}, and as DDL takes it. */
  public String sql() {
    return sql;
  }

  /** The type of a column as {@code format_type} reports it; empty for one this mapping did not create. */
  public static Optional<ValueType> ofSql(String formatType) {
    String type = formatType.toLowerCase(Locale.ROOT);
    for (ValueType value : values()) {
      if (value.sql.equals(type)) {
        return Optional.of(value);
      }
    }
    return Optional.empty();
  }

  /** The type a non-null, non-object JSON value asks for. */
  public static ValueType of(JsonNode value) {
    if (value.isBoolean()) {
      return BOOLEAN;
    }
    if (value.isIntegralNumber()) {
      return value.canConvertToLong() ? BIGINT : NUMERIC;
    }
    if (value.isNumber()) {
      return NUMERIC;
    }
    if (value.isTextual()) {
      return isTimestamp(value.asText()) ? TIMESTAMPTZ : TEXT;
    }
    return JSONB;
  }

  static boolean isTimestamp(String text) {
    if (text.length() > 35 || !TIMESTAMP.matcher(text).matches()) {
      return false;
    }
    try {
      OffsetDateTime parsed = OffsetDateTime.parse(text);
      // Postgres takes years 4713 BC to 294276 AD (four digits are always inside), and zone offsets within 15:59;
      // Java takes 18 hours.
      return parsed.getYear() >= 1 && Math.abs(parsed.getOffset().getTotalSeconds()) < MAX_OFFSET_SECONDS;
    } catch (DateTimeParseException e) {
      return false; // 2026-02-30, 25:00 and the like: text
    }
  }

  /** What a value of this type does to a column of type {@code column}. */
  public Fit into(ValueType column) {
    if (column == this || column == TEXT || column == JSONB || (column == NUMERIC && this == BIGINT)) {
      return Fit.STORE;
    }
    if ((column == BIGINT && this == NUMERIC) || (column == TIMESTAMPTZ && this == TEXT)) {
      return Fit.WIDEN;
    }
    return Fit.CONFLICT;
  }

  /** What a value does to a column. */
  public enum Fit {
    /** stored as it is, or as the column's type (text of a number, jsonb of a string) */
    STORE,
    /** the column widens to the value's type, once */
    WIDEN,
    /** kept in schema_discards; the row's column is null */
    CONFLICT
  }
}
