package eventrouter.warehouse.typed;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.Normalizer;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The one derivation of SQL identifiers from user data (event names, property and trait paths), after Segment's and
 * RudderStack's rules: {@code Order Completed} becomes {@code order_completed}, {@code productId} becomes
 * {@code product_id}, a nested {@code product.sku} becomes {@code product_sku}.
 *
 * <ol>
 *   <li>camelCase is split with {@code _}, then everything is lower-cased; accents are dropped (NFKD), other letters
 *       and digits of any script are kept;</li>
 *   <li>every other character (spaces, punctuation, quotes) becomes {@code _}; runs of {@code _} collapse, and
 *       leading and trailing ones go; nothing left gives {@code _empty};</li>
 *   <li>a name that starts with a digit, is a Postgres reserved word, or is one of the names the caller reserves
 *       (our own tables, a table's fixed columns) gets a leading {@code _};</li>
 *   <li>a name longer than Postgres' 63 bytes is cut to 54 bytes (on a character boundary) and ends with {@code _}
 *       and 8 hex digits of the SHA-256 of the whole name, so two long names that share their first 54 bytes still
 *       differ, where Postgres would silently truncate both to the same identifier.</li>
 * </ol>
 * Two names map to the same identifier only when steps 1 and 2 make them equal ({@code Order Completed},
 * {@code order_completed} and {@code orderCompleted} share a table, as with the anchors), or, for names over 63 bytes,
 * with a chance of 2<sup>-32</sup>. The result holds only letters, digits and {@code _}, and is always quoted
 * ({@link #quote}) when it goes into SQL.
 */
public final class Identifiers {
  /** Postgres' identifier limit: NAMEDATALEN - 1 bytes. */
  public static final int MAX_BYTES = 63;
  private static final int HASH_HEX = 8;
  private static final Pattern LOWER_THEN_UPPER = Pattern.compile("(\\p{Ll}|\\p{N})(\\p{Lu})");
  private static final Pattern ACRONYM_THEN_WORD = Pattern.compile("(\\p{Lu}+)(\\p{Lu}\\p{Ll})");
  private static final Pattern MARKS = Pattern.compile("\\p{M}+");
  private static final Pattern NOT_WORD = Pattern.compile("[^\\p{L}\\p{N}_]+");
  private static final Pattern UNDERSCORES = Pattern.compile("_{2,}");
  /**
   * Postgres' reserved key words (Appendix C, "reserved" and "reserved (can be function or type)"): valid when
   * quoted, but an analyst who writes them unquoted gets a syntax error.
   */
  static final Set<String> RESERVED_WORDS = Set.of("all", "analyse", "analyze", "and", "any", "array", "as", "asc",
      "asymmetric", "authorization", "binary", "both", "case", "cast", "check", "collate", "collation", "column",
      "concurrently", "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
      "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc",
      "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full",
      "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is", "isnull", "join",
      "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull",
      "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "references",
      "returning", "right", "select", "session_user", "similar", "some", "symmetric", "system_user", "table",
      "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose",
      "when", "where", "window", "with");

  private Identifiers() {
  }

  /** The identifier of a name (one path segment, or a whole event name). */
  public static String of(String name, Predicate<String> reserved) {
    return finish(normalize(name), reserved);
  }

  /** The identifier of a nested path ({@code ["product", "sku"]} gives {@code product_sku}). */
  public static String ofPath(List<String> path, Predicate<String> reserved) {
    return finish(normalizePath(path), reserved);
  }

  /**
   * Steps 1 and 2: what decides whether two names share an identifier.
   */
  public static String normalize(String name) {
    String split = ACRONYM_THEN_WORD.matcher(LOWER_THEN_UPPER.matcher(name).replaceAll("$1_$2")).replaceAll("$1_$2");
    String lower = Normalizer.normalize(split.toLowerCase(Locale.ROOT), Normalizer.Form.NFKD);
    String words = NOT_WORD.matcher(MARKS.matcher(lower).replaceAll("")).replaceAll("_");
    String collapsed = UNDERSCORES.matcher(words).replaceAll("_");
    int start = 0;
    int end = collapsed.length();
    while (start < end && collapsed.charAt(start) == '_') {
      start++;
    }
    while (end > start && collapsed.charAt(end - 1) == '_') {
      end--;
    }
    // NFKD can turn a character into letters that lower-casing would change again (a compatibility form).
    return collapsed.substring(start, end).toLowerCase(Locale.ROOT);
  }

  static String normalizePath(List<String> path) {
    StringBuilder joined = new StringBuilder();
    for (String segment : path) {
      String part = normalize(segment);
      if (!part.isEmpty()) {
        joined.append(joined.isEmpty() ? "" : "_").append(part);
      }
    }
    return joined.toString();
  }

  private static String finish(String normalized, Predicate<String> reserved) {
    String name = normalized.isEmpty() ? "_empty" : normalized;
    if (Character.isDigit(name.codePointAt(0)) || RESERVED_WORDS.contains(name) || reserved.test(name)) {
      name = "_" + name;
    }
    byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= MAX_BYTES) {
      return name;
    }
    int keep = MAX_BYTES - HASH_HEX - 1;
    // Back off to the start of a UTF-8 character: continuation bytes are 10xxxxxx.
    while ((bytes[keep] & 0xC0) == 0x80) {
      keep--;
    }
    return new String(bytes, 0, keep, StandardCharsets.UTF_8) + "_" + hash(normalized);
  }

  private static String hash(String text) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, HASH_HEX / 2);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The identifier as SQL: always quoted, so that case and any letter survive. */
  public static String quote(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
