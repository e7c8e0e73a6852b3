package eventrouter.warehouse.typed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import eventrouter.warehouse.typed.ValueType.Fit;
import java.math.BigDecimal;
import java.math.BigInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Type inference and what a value does to a column, without Postgres. */
class ValueTypeTest {
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  @Test
  @DisplayName("JSON values ask for boolean, bigint, numeric, timestamptz, text or jsonb")
  void inference() {
    assertEquals(ValueType.BOOLEAN, ValueType.of(JSON.booleanNode(true)));
    assertEquals(ValueType.BIGINT, ValueType.of(JSON.numberNode(42L)));
    assertEquals(ValueType.NUMERIC, ValueType.of(JSON.numberNode(new BigInteger("123456789012345678901234567890"))),
        "past 64 bits");
    assertEquals(ValueType.NUMERIC, ValueType.of(JSON.numberNode(new BigDecimal("19.99"))));
    assertEquals(ValueType.TIMESTAMPTZ, ValueType.of(JSON.textNode("2026-12-03T20:00:00.123456789Z")));
    assertEquals(ValueType.TIMESTAMPTZ, ValueType.of(JSON.textNode("2026-12-03T20:00:00+05:30")));
    assertEquals(ValueType.TEXT, ValueType.of(JSON.textNode("2026-12-03")), "a date alone is text");
    assertEquals(ValueType.TEXT, ValueType.of(JSON.textNode("2026-02-30T10:00:00Z")), "no such day");
    assertEquals(ValueType.TEXT, ValueType.of(JSON.textNode("0000-01-01T00:00:00Z")), "year 0");
    assertEquals(ValueType.TEXT, ValueType.of(JSON.textNode("2026-12-03T20:00:00+17:00")),
        "an offset Java takes and Postgres refuses");
    assertEquals(ValueType.TEXT, ValueType.of(JSON.textNode("2026-12-03T20:00:00")), "no zone");
    assertEquals(ValueType.JSONB, ValueType.of(JSON.arrayNode().add(1)));
  }

  @Test
  @DisplayName("a column holds what it can, widens bigint -> numeric and timestamptz -> text, and conflicts otherwise")
  void fits() {
    assertEquals(Fit.STORE, ValueType.BIGINT.into(ValueType.NUMERIC));
    assertEquals(Fit.STORE, ValueType.BOOLEAN.into(ValueType.TEXT));
    assertEquals(Fit.STORE, ValueType.TEXT.into(ValueType.JSONB));
    assertEquals(Fit.WIDEN, ValueType.NUMERIC.into(ValueType.BIGINT));
    assertEquals(Fit.WIDEN, ValueType.TEXT.into(ValueType.TIMESTAMPTZ));
    assertEquals(Fit.CONFLICT, ValueType.TEXT.into(ValueType.NUMERIC));
    assertEquals(Fit.CONFLICT, ValueType.BIGINT.into(ValueType.BOOLEAN));
    assertEquals(Fit.CONFLICT, ValueType.JSONB.into(ValueType.BIGINT));
    assertEquals(Fit.CONFLICT, ValueType.BIGINT.into(ValueType.TIMESTAMPTZ));
  }
}
