package eventrouter.delivery;

import eventrouter.config.DestinationConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A destination ready to route to: its config with the filter and payload compiled. {@link #compileAll} runs before
 * anything starts, so a broken expression fails start-up with a {@link eventrouter.config.ConfigException} naming
 * the destination, the expression and where it breaks.
 */
public record Destination(DestinationConfig config, EventExpressions.Filter filter, EventExpressions.Payload payload) {

  public static List<Destination> compileAll(List<DestinationConfig> configs) {
    List<Destination> destinations = new ArrayList<>();
    for (int i = 0; i < configs.size(); i++) {
      DestinationConfig config = configs.get(i);
      String at = "destinations[" + i + "]";
      destinations.add(new Destination(config,
          EventExpressions.filter(config.id(), at + ".filter", config.filter()),
          EventExpressions.payload(config.id(), at + ".payload", config.payload())));
    }
    return List.copyOf(destinations);
  }

  public String id() {
    return config.id();
  }
}
