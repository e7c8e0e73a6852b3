package eventrouter.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.RouterConfig.TraitDefinition;
import io.vertx.core.json.JsonArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraitsConfigTest {
  @TempDir
  Path dir;

  private static List<TraitDefinition> parse(String json) {
    return TraitsFile.parse(new JsonArray(json), "traits.json");
  }

  private static String error(String json) {
    return assertThrows(ConfigException.class, () -> parse(json)).getMessage();
  }

  @Test
  @DisplayName("the shipped conf/traits.json reads, its queries joined from lines")
  void shippedFile() {
    List<TraitDefinition> traits = TraitsFile.read(Path.of("conf", "traits.json"), true);
    assertEquals(List.of("ltv", "orders"), traits.stream().map(TraitDefinition::name).toList());
    assertTrue(traits.get(0).sql().contains("\nFROM tracks t\n"), traits.get(0).sql());
  }

  @Test
  @DisplayName("sql as a string or as lines; a closing semicolon is dropped")
  void sqlForms() {
    List<TraitDefinition> traits = parse("""
        [{"name": "a", "sql": "SELECT user_id, 1 FROM users WHERE id = ANY($1);"},
         {"name": "b", "sql": ["SELECT id, 2", "FROM users WHERE id = ANY($1)"], "description": "two"}]""");
    assertEquals("SELECT user_id, 1 FROM users WHERE id = ANY($1)", traits.get(0).sql());
    assertEquals("SELECT id, 2\nFROM users WHERE id = ANY($1)", traits.get(1).sql());
    assertEquals("two", traits.get(1).description());
  }

  @Test
  @DisplayName("each mistake is named by index, trait name and field")
  void errors() {
    assertTrue(error("[{\"name\": \"1st\", \"sql\": \"SELECT $1\"}]").startsWith("traits[0].name in traits.json"));
    assertTrue(error("[{\"name\": \"a-b\", \"sql\": \"SELECT $1\"}]").contains("rules read it as traits.<name>"));
    assertTrue(error("[{\"name\": \"a\", \"sql\": \"SELECT $1\"}, {\"name\": \"a\", \"sql\": \"SELECT $1\"}]")
        .startsWith("traits[1].name in traits.json: \"a\" is used twice"));
    assertTrue(error("[{\"name\": \"a\", \"sql\": \"SELECT user_id, 1 FROM users\"}]")
        .startsWith("traits[0] (\"a\").sql in traits.json must read the user ids to compute from $1"));
    assertTrue(error("[{\"name\": \"a\", \"sql\": \"SELECT $12\"}]").contains("from $1"), "$12 is not $1");
    assertTrue(error("[{\"name\": \"a\", \"sql\": 7}]").startsWith("traits[0] (\"a\").sql in traits.json must be"));
    assertTrue(error("[{\"name\": \"a\", \"sql\": \"SELECT $1\", \"when\": \"x\"}]")
        .startsWith("traits[0] (\"a\").when in traits.json is not a setting of a trait"));
    assertTrue(error("[\"ltv\"]").startsWith("traits[0] in traits.json must be an object"));
  }

  @Test
  @DisplayName("a missing default file means no computed traits; a missing file the user named is an error")
  void missingFile() throws Exception {
    Path absent = dir.resolve("absent.json");
    assertEquals(List.of(), TraitsFile.read(absent, false));
    assertTrue(assertThrows(ConfigException.class, () -> TraitsFile.read(absent, true)).getMessage()
        .startsWith("cannot read traits file " + absent + " (ROUTER_TRAITS)"));
    Path notArray = Files.writeString(dir.resolve("object.json"), "{}");
    assertTrue(assertThrows(ConfigException.class, () -> TraitsFile.read(notArray, true)).getMessage()
        .startsWith("traits file " + notArray + " must hold a JSON array of traits"));
  }
}
