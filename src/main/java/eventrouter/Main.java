package eventrouter;

import eventrouter.config.ConfigException;
import eventrouter.config.RouterConfig;
import eventrouter.config.Settings;
import eventrouter.embedded.BrokerCommand;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code java -jar event-router.jar [--conf FILE]}: reads the config, starts the router, stops it on SIGTERM.
 * {@code java -jar event-router.jar broker ...} runs a Kafka broker for several nodes to share instead
 * ({@link BrokerCommand}).
 */
public final class Main {
  static final Path DEFAULT_CONFIG = Path.of("conf", "router.json");

  private Main() {
  }

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("broker")) {
      BrokerCommand.run(Arrays.asList(args).subList(1, args.length));
      return;
    }
    Path configFile = DEFAULT_CONFIG;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--conf") && i + 1 < args.length) {
        configFile = Path.of(args[++i]);
      } else {
        System.err.println("usage: java -jar event-router.jar [--conf FILE] | broker [--help]   (unknown argument: "
            + args[i] + ")");
        System.exit(2);
      }
    }
    RouterConfig config;
    try {
      config = RouterConfig.from(Settings.load(configFile, System.getenv()));
    } catch (ConfigException e) {
      System.err.println("config error: " + e.getMessage());
      System.exit(2);
      return;
    }
    EventRouter router;
    try {
      router = EventRouter.start(config);
    } catch (ConfigException e) {
      System.err.println("config error: " + e.getMessage());
      System.exit(2);
      return;
    } catch (RuntimeException e) {
      System.err.println("start-up failed: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(router::close, "event-router-shutdown"));
  }
}
