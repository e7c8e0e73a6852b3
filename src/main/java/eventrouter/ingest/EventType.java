package eventrouter.ingest;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The Segment spec's call types, with the fields each one requires besides userId/anonymousId. */
public enum EventType {
  TRACK("track", List.of("event")),
  IDENTIFY("identify", List.of()),
  PAGE("page", List.of()),
  SCREEN("screen", List.of()),
  GROUP("group", List.of("groupId")),
  ALIAS("alias", List.of("previousId", "userId"));

  private static final Map<String, EventType> BY_WIRE_NAME = Arrays.stream(values())
      .collect(Collectors.toUnmodifiableMap(EventType::wireName, Function.identity()));
  static final String WIRE_NAMES = String.join(", ", BY_WIRE_NAME.keySet().stream().sorted().toList());

  private final String wireName;
  private final List<String> requiredFields;

  EventType(String wireName, List<String> requiredFields) {
    this.wireName = wireName;
    this.requiredFields = requiredFields;
  }

  public String wireName() {
    return wireName;
  }

  public List<String> requiredFields() {
    return requiredFields;
  }

  /** @return the type, or null when the name is not one of the spec's types */
  public static EventType fromWireName(String name) {
    return BY_WIRE_NAME.get(name);
  }
}
