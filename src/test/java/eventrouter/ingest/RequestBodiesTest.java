package eventrouter.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RequestBodiesTest {
  private static final byte[] JSON = "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\"}".getBytes(StandardCharsets.UTF_8);

  @Test
  @DisplayName("a body is taken as it is, or gunzipped when declared gzip or when it starts with gzip's magic bytes")
  void gzipDeclaredOrRecognised() throws IOException {
    assertArrayEquals(JSON, RequestBodies.decode(JSON, false, 1000));
    assertArrayEquals(JSON, RequestBodies.decode(gzip(JSON), true, 1000));
    // RudderStack's Node SDK gzips under a form content type; a client may also leave out Content-Encoding.
    assertArrayEquals(JSON, RequestBodies.decode(gzip(JSON), false, 1000));
    byte[] twoMembers = concat(gzip(Arrays.copyOf(JSON, 10)), gzip(Arrays.copyOfRange(JSON, 10, JSON.length)));
    assertArrayEquals(JSON, RequestBodies.decode(twoMembers, true, 1000));
  }

  @Test
  @DisplayName("a body declared gzip that is not, a broken gzip stream and an empty body are 400s naming the problem")
  void refusals() throws IOException {
    IngestException notGzip = assertThrows(IngestException.class, () -> RequestBodies.decode(JSON, true, 1000));
    assertEquals(400, notGzip.status());
    assertTrue(notGzip.getMessage().contains("declared Content-Encoding: gzip but is not gzip"), notGzip.getMessage());

    byte[] truncated = Arrays.copyOf(gzip(JSON), 15);
    IngestException broken = assertThrows(IngestException.class, () -> RequestBodies.decode(truncated, true, 1000));
    assertEquals(400, broken.status());
    assertTrue(broken.getMessage().startsWith("body is not valid gzip data"), broken.getMessage());

    for (boolean declared : new boolean[] {true, false}) {
      IngestException empty = assertThrows(IngestException.class,
          () -> RequestBodies.decode(new byte[0], declared, 1000));
      assertEquals(400, empty.status());
      assertTrue(empty.getMessage().startsWith("body is empty"), empty.getMessage());
    }
  }

  @Test
  @DisplayName("the limit holds after gunzip: a small gzip that inflates past it is 413 naming the limit")
  void limitAfterGunzip() throws IOException {
    byte[] bomb = gzip(new byte[200_000]);
    assertTrue(bomb.length < 1_000);
    IngestException tooLarge = assertThrows(IngestException.class, () -> RequestBodies.decode(bomb, true, 100_000));
    assertEquals(413, tooLarge.status());
    assertTrue(tooLarge.getMessage().contains("exceeds 100000 bytes (measured after gzip decompression)"),
        tooLarge.getMessage());
  }

  static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
      gzip.write(bytes);
    }
    return out.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }
}
