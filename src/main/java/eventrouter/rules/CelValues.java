package eventrouter.rules;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.google.protobuf.NullValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts between JSON trees and the Java values CEL evaluates over (Long, Double, String, Boolean, List, Map). */
public final class CelValues {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private CelValues() {
  }

  /** A JSON value as CEL sees it: integers are Long, other numbers Double, null is CEL's null. */
  public static Object fromJson(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return NullValue.NULL_VALUE;
    }
    if (node.isObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      node.fields().forEachRemaining(entry -> map.put(entry.getKey(), fromJson(entry.getValue())));
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>(node.size());
      node.forEach(item -> list.add(fromJson(item)));
      return list;
    }
    if (node.isIntegralNumber() && node.canConvertToLong()) {
      return node.longValue();
    }
    if (node.isNumber()) {
      return node.doubleValue();
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    return node.asText();
  }

  /** A JSON object as a CEL map; anything else (absent, null, a scalar) is the empty map. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> mapFromJson(JsonNode node) {
    return node != null && node.isObject() ? (Map<String, Object>) fromJson(node) : Map.of();
  }

  /** A CEL result as JSON, for signal properties and stored values. */
  public static JsonNode toJson(Object value) {
    if (value == null || value instanceof NullValue || value instanceof dev.cel.common.values.NullValue) {
      return JsonNodeFactory.instance.nullNode();
    }
    if (value instanceof Map<?, ?> map) {
      var object = JsonNodeFactory.instance.objectNode();
      map.forEach((k, v) -> object.set(String.valueOf(k), toJson(v)));
      return object;
    }
    if (value instanceof Iterable<?> items) {
      var array = JsonNodeFactory.instance.arrayNode();
      items.forEach(item -> array.add(toJson(item)));
      return array;
    }
    if (value instanceof com.google.common.primitives.UnsignedLong unsigned) {
      return JsonNodeFactory.instance.numberNode(unsigned.bigIntegerValue());
    }
    if (value instanceof Number || value instanceof Boolean || value instanceof String) {
      return MAPPER.valueToTree(value);
    }
    return JsonNodeFactory.instance.textNode(value.toString());
  }
}
