package eventrouter.delivery;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import eventrouter.config.ConfigException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CEL over one event: a destination's {@code filter} (bool) and {@code payload} (any value, or an object of field to
 * expression). The event is the variable {@code event}, a map of its JSON. Expressions compile once at start-up; one
 * that does not compile fails start-up with the destination, the expression and the position of the error.
 */
final class EventExpressions {
  private static final String VARIABLE = "event";
  private static final Cel FILTERS = CelFactory.standardCelBuilder()
      .addVar(VARIABLE, MapType.create(SimpleType.STRING, SimpleType.DYN))
      .setResultType(SimpleType.BOOL)
      .build();
  private static final Cel VALUES = CelFactory.standardCelBuilder()
      .addVar(VARIABLE, MapType.create(SimpleType.STRING, SimpleType.DYN))
      .build();

  /** A compiled filter; {@link #ALL} takes every event. */
  interface Filter {
    Filter ALL = event -> true;

    /** @throws CelEvaluationException when the expression fails on this event (a missing key, say) */
    boolean matches(Map<String, Object> event) throws CelEvaluationException;
  }

  /** A compiled payload; {@link #EVENT} sends the event as it is. */
  interface Payload {
    Payload EVENT = (event, json) -> json;

    Object shape(Map<String, Object> event, JsonObject json) throws CelEvaluationException;
  }

  private EventExpressions() {
  }

  static Filter filter(String destination, String field, String expression) {
    if (expression == null) {
      return Filter.ALL;
    }
    CelRuntime.Program program = compile(FILTERS, destination, field, expression);
    return event -> {
      Object result = program.eval(Map.of(VARIABLE, event));
      if (result instanceof Boolean matches) {
        return matches;
      }
      // dyn values pass the type check; a filter must still come out true or false
      throw new CelEvaluationException("filter " + expression + " gave " + toJson(result) + ", not true or false");
    };
  }

  /** @param spec null, a CEL expression, or a {@link JsonObject} of output field to CEL expression */
  static Payload payload(String destination, String field, Object spec) {
    if (spec == null) {
      return Payload.EVENT;
    }
    if (spec instanceof String expression) {
      CelRuntime.Program program = compile(VALUES, destination, field, expression);
      return (event, json) -> toJson(program.eval(Map.of(VARIABLE, event)));
    }
    Map<String, CelRuntime.Program> fields = new LinkedHashMap<>();
    for (Map.Entry<String, Object> entry : (JsonObject) spec) {
      if (!(entry.getValue() instanceof String expression)) {
        throw new ConfigException(field + "." + entry.getKey() + " (destination \"" + destination
            + "\") must be a CEL expression string (got " + entry.getValue() + ")");
      }
      fields.put(entry.getKey(), compile(VALUES, destination, field + "." + entry.getKey(), expression));
    }
    return (event, json) -> {
      JsonObject shaped = new JsonObject();
      for (Map.Entry<String, CelRuntime.Program> entry : fields.entrySet()) {
        shaped.put(entry.getKey(), toJson(entry.getValue().eval(Map.of(VARIABLE, event))));
      }
      return shaped;
    };
  }

  private static CelRuntime.Program compile(Cel cel, String destination, String field, String expression) {
    CelValidationResult result = cel.compile(expression);
    try {
      CelAbstractSyntaxTree ast = result.getAst();
      return cel.createProgram(ast);
    } catch (CelValidationException | CelEvaluationException e) {
      String errors = result.hasError() ? result.getErrorString() : e.getMessage();
      throw new ConfigException(field + " (destination \"" + destination + "\") is not a valid CEL expression: "
          + expression + "\n" + errors, e);
    }
  }

  /** The event as CEL sees it: JSON numbers become int (long) or double, null becomes CEL's null. */
  static Map<String, Object> toCel(JsonObject json) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (Map.Entry<String, Object> entry : json) {
      map.put(entry.getKey(), celValue(entry.getValue()));
    }
    return map;
  }

  private static Object celValue(Object value) {
    if (value == null) {
      return com.google.protobuf.NullValue.NULL_VALUE;
    }
    if (value instanceof JsonObject object) {
      return toCel(object);
    }
    if (value instanceof JsonArray array) {
      List<Object> list = new ArrayList<>(array.size());
      array.forEach(item -> list.add(celValue(item)));
      return list;
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof Float f) {
      return f.doubleValue();
    }
    return value;
  }

  /** A CEL result as JSON: maps, lists, numbers, strings, booleans and null; anything else by its text. */
  static Object toJson(Object value) {
    if (value == null || value instanceof com.google.protobuf.NullValue
        || value instanceof dev.cel.common.values.NullValue) {
      return null;
    }
    if (value instanceof Map<?, ?> map) {
      JsonObject object = new JsonObject();
      map.forEach((k, v) -> object.put(String.valueOf(k), toJson(v)));
      return object;
    }
    if (value instanceof List<?> list) {
      JsonArray array = new JsonArray();
      list.forEach(item -> array.add(toJson(item)));
      return array;
    }
    if (value instanceof Number || value instanceof String || value instanceof Boolean) {
      return value;
    }
    return value.toString();
  }
}
