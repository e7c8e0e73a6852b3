package eventrouter.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class RecordHeadTest {
  @Test
  void readsTheTopLevelFieldsAndSkipsNestedOnes() throws IOException {
    String json = """
        {"type":"track","properties":{"messageId":"nested","userId":"nested","list":[{"receivedAt":"x"}]},
         "messageId":"m-1","userId":"ada","anonymousId":null,"context":{"userId":"nested","type":"nested"},
         "receivedAt":"2026-11-24T10:00:00.000Z","items":[1,2,{"a":{}}]}""";
    assertEquals(new RecordHead("m-1", "track", "ada", null, "2026-11-24T10:00:00.000Z"), RecordHead.read(json));
  }

  @Test
  void absentFieldsAreNull() throws IOException {
    assertEquals(new RecordHead(null, null, null, "anon-1", null), RecordHead.read("{\"anonymousId\":\"anon-1\"}"));
  }

  @Test
  void refusesWhatIsNotAJsonObject() {
    assertThrows(IOException.class, () -> RecordHead.read("[1,2]"));
    assertThrows(IOException.class, () -> RecordHead.read("{\"messageId\":\"m-1\""));
    assertThrows(IOException.class, () -> RecordHead.read("not json"));
  }

  @Test
  void headersCarryTheHeadSoTheValueIsNotRead() throws IOException {
    RecordHead head = new RecordHead("m-2", "identify", "ada", null, "2026-11-24T10:00:00.000Z");
    RecordHeaders headers = new RecordHeaders(head.toHeaders());
    assertEquals(head, RecordHead.of(headers, "not json: never parsed when the headers are there"));
    assertNull(headers.lastHeader("anonymousId").value(), "an absent id is a header without a value");
  }

  @Test
  void aRecordWrittenBeforeHeadersIsRead() throws IOException {
    assertEquals(new RecordHead("m-3", "page", null, "anon-3", null),
        RecordHead.of(new RecordHeaders(), "{\"messageId\":\"m-3\",\"type\":\"page\",\"anonymousId\":\"anon-3\"}"));
  }
}
