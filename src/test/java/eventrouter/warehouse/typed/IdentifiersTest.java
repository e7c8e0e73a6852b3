package eventrouter.warehouse.typed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Example;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** The identifier mapping: the anchors' examples, and a fuzz of 10,000 names for validity and uniqueness. */
class IdentifiersTest {
  private static final Pattern VALID = Pattern.compile("[\\p{L}\\p{N}_]+");
  /** Names that reach SQL as identifiers: every hostile shape we could think of, mixed with arbitrary text. */
  private static final List<String> HOSTILE = List.of("\"; DROP TABLE events; --", "Robert'); DROP TABLE users;--",
      "a\" text); DELETE FROM users; --", "x\u0000y", "${jndi:ldap://x}", "select", "Table", "users", "tracks",
      "1st Purchase", "  ", "", "___", "Ünïcödé Ëvent", "购买完成", "مرحبا", "😀 emoji", "Order Completed",
      "order_completed", "orderCompleted", "ORDER-COMPLETED", "pg_catalog.pg_class", "a".repeat(200),
      "é".repeat(100), "\"quoted\"", "back\\slash", "new\nline", "tab\there", "context", "context_page_url");

  private static String table(String name) {
    return Identifiers.of(name, TypedRow.OWN_TABLES::contains);
  }

  @Example
  void theAnchorsExamples() {
    assertEquals("order_completed", table("Order Completed"));
    assertEquals("order_completed", table("order_completed"));
    assertEquals("order_completed", table("orderCompleted"));
    assertEquals("order_completed", table("Order-Completed!"));
    assertEquals("product_id", Identifiers.ofPath(List.of("productId"), n -> false));
    assertEquals("product_sku", Identifiers.ofPath(List.of("product", "sku"), n -> false));
    assertEquals("http_status", Identifiers.of("HTTPStatus", n -> false));
    assertEquals("_1st_purchase", table("1st Purchase"));
    assertEquals("_select", table("select"), "a reserved word");
    assertEquals("_users", table("Users"), "one of our own tables");
    assertEquals("_empty", table("!!!"));
    assertEquals("evenement_achete", table("Événement Acheté"), "accents dropped");
    assertEquals("购买完成", table("购买完成"), "letters of other scripts kept");
  }

  @Example
  void longNamesAreCutWithAHashSoTheyStayApart() {
    String a = table("x".repeat(70) + " one");
    String b = table("x".repeat(70) + " two");
    assertNotEquals(a, b);
    assertTrue(a.getBytes(StandardCharsets.UTF_8).length <= Identifiers.MAX_BYTES);
    String multibyte = table("é".repeat(40));
    assertTrue(multibyte.getBytes(StandardCharsets.UTF_8).length <= Identifiers.MAX_BYTES, multibyte);
    assertTrue(multibyte.startsWith("e"), "é is e once its accent is dropped");
    String unicode = table("购".repeat(40));
    assertTrue(unicode.getBytes(StandardCharsets.UTF_8).length <= Identifiers.MAX_BYTES, unicode);
    assertTrue(VALID.matcher(unicode).matches(), "cut on a character boundary: " + unicode);
  }

  @Example
  void quotingDoublesQuotes() {
    assertEquals("\"a\"\"b\"", Identifiers.quote("a\"b"));
  }

  @Provide
  Arbitrary<String> names() {
    Arbitrary<String> text = Arbitraries.strings().all().ofMaxLength(120);
    Arbitrary<String> ascii = Arbitraries.strings().ascii().ofMaxLength(80);
    Arbitrary<String> hostile = Arbitraries.of(HOSTILE);
    Arbitrary<String> mixed = Combinators.combine(hostile, ascii, hostile).as((a, b, c) -> a + b + c);
    return Arbitraries.oneOf(text, ascii, hostile, mixed);
  }

  @Property(tries = 10_000)
  void everyNameMapsToAValidIdentifier(@ForAll("names") String name) {
    String identifier = table(name);
    assertTrue(VALID.matcher(identifier).matches(), () -> "only letters, digits and _: " + identifier);
    assertTrue(identifier.getBytes(StandardCharsets.UTF_8).length <= Identifiers.MAX_BYTES, identifier);
    assertTrue(!Character.isDigit(identifier.codePointAt(0)), identifier);
    assertTrue(!Identifiers.RESERVED_WORDS.contains(identifier) && !TypedRow.OWN_TABLES.contains(identifier),
        identifier);
    assertEquals(identifier, table(name), "the same name, the same identifier");
  }

  private static final Map<String, String> normalizedByIdentifier = new HashMap<>();

  /** Two names share an identifier only if they normalise alike, however long: no silent truncation. */
  @Property(tries = 10_000)
  void namesThatDifferGetDifferentIdentifiers(@ForAll("names") String name) {
    String normalized = Identifiers.normalize(name);
    String before = normalizedByIdentifier.putIfAbsent(table(name), normalized);
    assertTrue(before == null || before.equals(normalized),
        () -> "'" + name + "' collides with a name normalised as '" + before + "'");
  }
}
