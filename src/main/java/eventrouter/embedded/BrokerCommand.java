package eventrouter.embedded;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code java -jar event-router.jar broker [--data DIR] [--host HOST] [--port PORT] [--advertise NAME]}: the same KRaft
 * broker a single router embeds, run as a process of its own, so that the nodes of a cluster share one log that no
 * router's death takes down. Each node is then started with {@code ROUTER_KAFKA_BOOTSTRAP=NAME:PORT}.
 *
 * <p>It is one broker with one replica per partition: what it acknowledged survives any router's crash and its own
 * {@code kill -9} (the OS still writes the page cache out), not the loss of its disk. For that, run a Kafka cluster
 * of three brokers and set {@code kafka.replicationFactor} to 3.
 */
public final class BrokerCommand {
  static final String USAGE = "usage: java -jar event-router.jar broker [--data DIR] [--host HOST] [--port PORT]"
      + " [--advertise NAME]\n"
      + "  --data       the broker's log directory (default data/kafka-broker); formatted on first use\n"
      + "  --host       the interface to listen on (default 127.0.0.1; 0.0.0.0 for every one)\n"
      + "  --port       the client port (default 9092)\n"
      + "  --advertise  the name clients connect to (default: --host, which must then not be 0.0.0.0)";

  /** The parsed command line. */
  record Options(Path dataDir, EmbeddedKafka.Listener listener) {
    static Options parse(List<String> args) {
      Path dataDir = Path.of("data", "kafka-broker");
      String host = "127.0.0.1";
      String advertise = null;
      int port = 9092;
      for (int i = 0; i < args.size(); i++) {
        String flag = args.get(i);
        if (i + 1 >= args.size()) {
          throw new IllegalArgumentException(flag + " needs a value");
        }
        String value = args.get(++i);
        switch (flag) {
          case "--data" -> dataDir = Path.of(value);
          case "--host" -> host = value;
          case "--advertise" -> advertise = value;
          case "--port" -> port = port(value);
          default -> throw new IllegalArgumentException("unknown argument: " + flag);
        }
      }
      if (advertise == null) {
        if (host.equals("0.0.0.0") || host.equals("::")) {
          throw new IllegalArgumentException("--host " + host + " listens on every interface: say with --advertise"
              + " which name the routers connect to");
        }
        advertise = host;
      }
      return new Options(dataDir, new EmbeddedKafka.Listener(host, port, advertise));
    }

    private static int port(String value) {
      try {
        int port = Integer.parseInt(value);
        if (port >= 1 && port <= 65_535) {
          return port;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException("--port must be a number from 1 to 65535 (got \"" + value + "\")");
    }
  }

  private BrokerCommand() {
  }

  /** Starts the broker and returns; the JVM runs until SIGTERM, on which the broker shuts down in order. */
  public static void run(List<String> args) {
    if (args.contains("--help")) {
      System.out.println(USAGE);
      return;
    }
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage() + "\n" + USAGE);
      System.exit(2);
      return;
    }
    EmbeddedKafka broker;
    try {
      broker = EmbeddedKafka.start(options.dataDir(), options.listener());
    } catch (Exception e) {
      System.err.println("the broker could not start: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "event-router-broker-shutdown"));
    System.out.println("Kafka broker ready: ROUTER_KAFKA_BOOTSTRAP=" + broker.bootstrapServers() + " (data "
        + options.dataDir().toAbsolutePath() + ")");
  }
}
