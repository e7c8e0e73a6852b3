package eventrouter.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class EventHeadTest {
  @Test
  void readsTheTopLevelFieldsAndSkipsNestedOnes() throws IOException {
    String json = """
        {"type":"track","properties":{"messageId":"nested","userId":"nested","list":[{"receivedAt":"x"}]},
         "messageId":"m-1","userId":"ada","anonymousId":null,"context":{"userId":"nested"},
         "receivedAt":"2026-11-24T10:00:00.000Z","items":[1,2,{"a":{}}]}""";
    assertEquals(new EventHead("m-1", "ada", null, "2026-11-24T10:00:00.000Z"), EventHead.read(json));
  }

  @Test
  void absentFieldsAreNull() throws IOException {
    assertEquals(new EventHead(null, null, "anon-1", null), EventHead.read("{\"anonymousId\":\"anon-1\"}"));
  }

  @Test
  void refusesWhatIsNotAJsonObject() {
    assertThrows(IOException.class, () -> EventHead.read("[1,2]"));
    assertThrows(IOException.class, () -> EventHead.read("{\"messageId\":\"m-1\""));
    assertThrows(IOException.class, () -> EventHead.read("not json"));
  }
}
