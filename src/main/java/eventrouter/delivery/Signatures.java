package eventrouter.delivery;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Webhook signatures: {@code X-Router-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>} with the Unix
 * seconds in {@code X-Router-Timestamp}. Signing the timestamp lets a receiver refuse replays of old requests.
 */
public final class Signatures {
  public static final String TIMESTAMP_HEADER = "X-Router-Timestamp";
  public static final String SIGNATURE_HEADER = "X-Router-Signature";
  private static final String VERSION = "v1=";

  private Signatures() {
  }

  public static String sign(String secret, long timestampSeconds, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update((timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
      return VERSION + HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JRE", e);
    }
  }
}
