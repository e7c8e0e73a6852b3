package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarises a JFR recording's CPU samples ({@code jdk.ExecutionSample}): the hottest methods by self time (top frame),
 * and by total time (anywhere on the stack), and the share of samples per area of the code (Kafka broker, Kafka
 * client, Jackson, Netty, Vert.x, Postgres client, router code, JDK), by the first frame that belongs to an area.
 *
 * <pre>java -cp ... eventrouter.loadtest.bench.JfrTop --jfr FILE [--top 15] [--afterEpochMs T] [--beforeEpochMs U]</pre>
 * prints JSON, with the event-loop samples split by the router's stage ({@link #eventLoopStages}).
 * {@code --afterEpochMs} counts only samples taken after T: starting a recording retransforms JDK classes, and the
 * code that inlined them runs deoptimised until it is compiled again, so the first seconds are not representative.
 */
public final class JfrTop {
  private static final List<String[]> AREAS = List.of(
      new String[] {"router: ingest", "eventrouter.ingest."},
      new String[] {"router: log", "eventrouter.log."},
      new String[] {"router: warehouse", "eventrouter.warehouse."},
      new String[] {"router: other", "eventrouter."},
      new String[] {"Kafka broker (embedded)", "kafka."},
      new String[] {"Kafka broker (embedded)", "org.apache.kafka.storage."},
      new String[] {"Kafka broker (embedded)", "org.apache.kafka.server."},
      new String[] {"Kafka broker (embedded)", "org.apache.kafka.raft."},
      new String[] {"Kafka broker (embedded)", "org.apache.kafka.metadata."},
      new String[] {"Kafka broker (embedded)", "org.apache.kafka.coordinator."},
      new String[] {"Kafka client", "org.apache.kafka."},
      new String[] {"Postgres client", "io.vertx.pgclient."},
      new String[] {"Postgres client", "io.vertx.sqlclient."},
      new String[] {"Vert.x web", "io.vertx.ext.web."},
      new String[] {"Vert.x core", "io.vertx."},
      new String[] {"Jackson", "com.fasterxml.jackson."},
      new String[] {"Netty", "io.netty."},
      new String[] {"logging", "ch.qos.logback."},
      new String[] {"JDK", "java."},
      new String[] {"JDK", "jdk."},
      new String[] {"JDK", "sun."});

  private JfrTop() {
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, 0);
    int top = (int) args.getLong("top", 15);
    long after = args.getLong("afterEpochMs", 0);
    long before = args.getLong("beforeEpochMs", Long.MAX_VALUE);
    Map<String, Long> self = new HashMap<>();
    Map<String, Long> total = new HashMap<>();
    Map<String, Long> entryPoints = new HashMap<>();
    Map<String, Long> areas = new HashMap<>();
    long samples = 0;
    try (RecordingFile file = new RecordingFile(Path.of(args.get("jfr")))) {
      while (file.hasMoreEvents()) {
        RecordedEvent event = file.readEvent();
        if (!event.getEventType().getName().equals("jdk.ExecutionSample") || event.getStackTrace() == null
            || event.getStartTime().toEpochMilli() < after || event.getStartTime().toEpochMilli() >= before) {
          continue;
        }
        List<RecordedFrame> frames = event.getStackTrace().getFrames();
        if (frames.isEmpty()) {
          continue;
        }
        samples++;
        self.merge(name(frames.get(0)), 1L, Long::sum);
        Set<String> seen = new HashSet<>();
        String area = null;
        for (RecordedFrame frame : frames) {
          String name = name(frame);
          if (seen.add(name)) {
            total.merge(name, 1L, Long::sum);
            if (isEntryPoint(name)) {
              entryPoints.merge(name, 1L, Long::sum);
            }
          }
          if (area == null) {
            area = areaOf(frame.getMethod().getType().getName());
          }
        }
        areas.merge(area == null ? "other" : area, 1L, Long::sum);
      }
    }
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("samples", samples);
    out.set("selfTop", ranked(self, samples, top));
    out.set("totalTop", ranked(total, samples, top));
    out.set("entryPointsTotal", ranked(entryPoints, samples, 25));
    out.set("areas", ranked(areas, samples, 30));
    out.set("eventLoopStages", eventLoopStages(Path.of(args.get("jfr")), after, before));
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out));
  }

  /** The router's stage packages: an event-loop sample counts toward the innermost frame in one of them. */
  static final List<String> STAGE_PACKAGES = List.of("ingest", "realtime", "delivery", "warehouse", "traits", "admin",
      "cluster");

  /**
   * The CPU samples taken on Vert.x event-loop threads between {@code fromEpochMs} (inclusive) and {@code toEpochMs}
   * (exclusive), by router stage: the innermost frame of a stage package ({@code eventrouter.ingest.},
   * {@code eventrouter.realtime.}, ...) names the stage, so the helpers a stage calls ({@code eventrouter.log.},
   * {@code eventrouter.rules.}) and the libraries under them count toward it. A sample with a router frame in no stage
   * package counts under that frame's package; one with no router frame at all (Netty, Vert.x and client callbacks
   * before they reach router code) under "no router frame".
   */
  static ObjectNode eventLoopStages(Path jfr, long fromEpochMs, long toEpochMs) throws java.io.IOException {
    Map<String, Long> stages = new HashMap<>();
    long samples = 0;
    try (RecordingFile file = new RecordingFile(jfr)) {
      while (file.hasMoreEvents()) {
        RecordedEvent event = file.readEvent();
        if (!event.getEventType().getName().equals("jdk.ExecutionSample") || event.getStackTrace() == null) {
          continue;
        }
        long at = event.getStartTime().toEpochMilli();
        var thread = event.getThread("sampledThread");
        if (at < fromEpochMs || at >= toEpochMs || thread == null || thread.getJavaName() == null
            || !thread.getJavaName().startsWith("vert.x-eventloop-thread")) {
          continue;
        }
        samples++;
        stages.merge(stageOf(event.getStackTrace().getFrames()), 1L, Long::sum);
      }
    }
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("samples", samples);
    out.set("stages", ranked(stages, samples, 30));
    return out;
  }

  private static String stageOf(List<RecordedFrame> frames) {
    String fallback = null;
    for (RecordedFrame frame : frames) {
      String type = frame.getMethod().getType().getName();
      if (!type.startsWith("eventrouter.")) {
        continue;
      }
      int dot = type.indexOf('.', "eventrouter.".length());
      String pkg = dot < 0 ? "(root)" : type.substring("eventrouter.".length(), dot);
      if (STAGE_PACKAGES.contains(pkg)) {
        return pkg;
      }
      if (fallback == null) {
        fallback = pkg;
      }
    }
    return fallback == null ? "no router frame" : fallback;
  }

  /** The router's own methods and the library calls it makes, counted with everything they call (total time). */
  private static boolean isEntryPoint(String name) {
    if (name.contains("$$Lambda") || name.contains(".lambda$")) {
      return false;
    }
    return name.startsWith("eventrouter.")
        || name.startsWith("org.apache.kafka.clients.producer.KafkaProducer.send")
        || name.startsWith("org.apache.kafka.clients.producer.internals.Sender.run")
        || name.startsWith("org.apache.kafka.clients.consumer.KafkaConsumer.poll")
        || name.equals("com.fasterxml.jackson.databind.ObjectMapper.readTree")
        || name.equals("com.fasterxml.jackson.databind.ObjectMapper.writeValueAsBytes")
        || name.startsWith("io.vertx.ext.web.handler.impl.BodyHandlerImpl.handle")
        || name.startsWith("io.vertx.ext.web.handler.impl.CorsHandlerImpl.handle")
        || name.startsWith("io.vertx.core.http.impl.Http1xServerResponse.end")
        || name.startsWith("kafka.server.KafkaApis.handle")
        || name.startsWith("kafka.network.Processor.run")
        || name.startsWith("io.vertx.pgclient.impl.codec.PgEncoder.write");
  }

  private static String name(RecordedFrame frame) {
    return frame.getMethod().getType().getName() + "." + frame.getMethod().getName();
  }

  /** The area of the innermost frame that is not JDK code, so that a HashMap call made by Kafka counts as Kafka. */
  private static String areaOf(String className) {
    for (String[] area : AREAS) {
      if (className.startsWith(area[1]) && !area[0].equals("JDK")) {
        return area[0];
      }
    }
    return null;
  }

  private static ArrayNode ranked(Map<String, Long> counts, long samples, int top) {
    ArrayNode out = new ObjectMapper().createArrayNode();
    counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(top)
        .forEach(e -> out.addObject().put("name", e.getKey()).put("samples", e.getValue())
            .put("percent", Math.round(1000.0 * e.getValue() / Math.max(1, samples)) / 10.0));
    return out;
  }
}
