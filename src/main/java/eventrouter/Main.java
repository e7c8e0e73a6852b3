package eventrouter;

import eventrouter.config.ConfigException;
import eventrouter.config.RouterConfig;
import eventrouter.config.Settings;
import java.nio.file.Path;

/** {@code java -jar event-router.jar [--conf FILE]}: reads the config, starts the router, stops it on SIGTERM. */
public final class Main {
  static final Path DEFAULT_CONFIG = Path.of("conf", "router.json");

  private Main() {
  }

  public static void main(String[] args) {
    Path configFile = DEFAULT_CONFIG;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--conf") && i + 1 < args.length) {
        configFile = Path.of(args[++i]);
      } else {
        System.err.println("usage: java -jar event-router.jar [--conf FILE]   (unknown argument: " + args[i] + ")");
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
