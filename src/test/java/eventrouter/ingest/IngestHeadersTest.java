package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The request headers ingest reads before the body: Basic auth and the content type. */
class IngestHeadersTest {
  @Test
  @DisplayName("the write key is the Basic auth username, and a header that is not Basic base64 is refused")
  void basicAuth() {
    assertEquals("key-1", IngestVerticle.writeKeyFromBasicAuth("Basic " + base64("key-1:")));
    assertEquals("key-1", IngestVerticle.writeKeyFromBasicAuth("basic\t " + base64("key-1:secret:more")));
    assertEquals("key-1", IngestVerticle.writeKeyFromBasicAuth("  BASIC " + base64("key-1") + "  "));
    assertEquals("ключ", IngestVerticle.writeKeyFromBasicAuth("Basic " + base64("ключ:")));
    for (String header : List.of("Basic", "Basic ", "Bearer " + base64("key-1:"), "Basic " + base64(":"),
        "Basic " + base64(":key"), "Basic !!!", "Basic " + base64("key-1:") + " extra", "Basic" + base64("key-1:"),
        "Basicx " + base64("key-1:"), "")) {
      IngestException refused = assertThrows(IngestException.class, () -> IngestVerticle.writeKeyFromBasicAuth(header),
          header);
      assertEquals(401, refused.status());
      assertEquals("Authorization header must be Basic base64(\"<writeKey>:\")", refused.getMessage());
    }
  }

  @Test
  @DisplayName("Basic auth is read exactly as the regular-expression split read it, for any header")
  void basicAuthAsBefore() {
    List<String> headers = new ArrayList<>(List.of("Basic\u000B" + base64("k:"), "Basic\u0001" + base64("k:"),
        "Basic\f\r\n" + base64("k:"), "Basic\u00A0" + base64("k:"), "\tBasic " + base64("k:") + "\t",
        "Basic " + base64("k:") + "\u000B", "Basic  " + base64("k") + " " + base64("k")));
    Random random = new Random(9);
    String[] pieces = {"Basic", "basic", "Bearer", " ", "\t", "\u000B", "\u0001", "\u00A0", base64("key:"),
        base64(":"), base64("key"), "=", ":", "!"};
    for (int i = 0; i < 20_000; i++) {
      StringBuilder header = new StringBuilder();
      for (int n = random.nextInt(5); n >= 0; n--) {
        header.append(pieces[random.nextInt(pieces.length)]);
      }
      headers.add(header.toString());
    }
    for (String header : headers) {
      assertEquals(legacyKey(header), key(header), header);
    }
  }

  private static String key(String header) {
    try {
      return IngestVerticle.writeKeyFromBasicAuth(header);
    } catch (IngestException refused) {
      return "refused: " + refused.getMessage();
    }
  }

  /** The implementation before the regular expression was taken out. */
  private static String legacyKey(String header) {
    try {
      return LegacyIngest.writeKeyFromBasicAuth(header);
    } catch (IngestException refused) {
      return "refused: " + refused.getMessage();
    }
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
