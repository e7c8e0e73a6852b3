package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * CPU time per event: runs {@link RateLoad} at a fixed rate as a child process and reads, at the start and at the end
 * of its measured window (its {@code MARK} lines), the CPU time ({@code utime + stime} from {@code /proc}) of every
 * process that serves the events: the router JVM, split by thread group; the Redis server; Postgres (the postmaster
 * and all its children); and, shown apart as not the router, the webhook sink and the load generator itself. Over
 * the same window it reads Redis's {@code INFO commandstats} (the difference of the two readings, so that nothing
 * shared is reset) and splits the router's event-loop time by stage from a JFR recording
 * ({@link JfrTop#eventLoopStages}). Everything is divided by the events the load generator got acknowledged in the
 * window.
 *
 * <pre>
 * java -cp ... eventrouter.loadtest.bench.Cost --label embedded-single --routerPid P --sinkPid S
 *     --redis 127.0.0.1:6379 --pgPort 5432 --url http://127.0.0.1:8080/v1/track --key KEY
 *     --rate 2000 --seconds 20 --warmup 10 [--batch 100] [--mix shop] [--users 500] [--connections 64]
 *     [--idleSecs 5] [--jcmd PATH --jfrName NAME --jfr FILE] --out FILE
 * </pre>
 * With {@code --jcmd}, the event loops are split by stage from the JFR recording {@code --jfrName}, which the caller
 * has started on the router (before its warm-up: starting a recording deoptimises code, which the warm-up compiles
 * again), dumped to {@code --jfr} after the window. {@code --idleSecs} first reads every process over that many
 * seconds with no load: what the pipeline burns with nothing to do (pollers, timers, the broker).
 */
public final class Cost {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The router's thread groups, by the thread's name as {@code /proc} shows it (its first 15 characters). */
  static final List<String> GROUPS = List.of("Vert.x event loops", "Vert.x worker threads", "Kafka client threads",
      "Kafka broker (embedded) threads", "GC", "JIT compiler", "other JVM and router threads");

  static String group(String comm) {
    if (comm.startsWith("vert.x-eventloo")) {
      return GROUPS.get(0);
    }
    if (comm.startsWith("vert.x-worker") || comm.startsWith("vert.x-internal")) {
      return GROUPS.get(1);
    }
    if (comm.startsWith("vert.x-kafka") || comm.startsWith("kafka-producer") || comm.startsWith("kafka-coordinat")
        || comm.startsWith("kafka-admin-cli")) {
      return GROUPS.get(2);
    }
    if (comm.startsWith("GC Thread") || comm.startsWith("G1 ") || comm.startsWith("Z") && !comm.startsWith("Zip")
        || comm.startsWith("Shenandoah") || comm.startsWith("ParGC")) {
      return GROUPS.get(4);
    }
    if (comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre") || comm.startsWith("Sweeper")) {
      return GROUPS.get(5);
    }
    // The embedded KRaft broker's threads: request handlers, network, raft, coordinators, purgatories, schedulers.
    for (String broker : List.of("data-plane-", "ExpirationReape", "controller-", "broker-", "kafka-", "raft-",
        "quorum-", "group-coordinat", "share-", "transaction-log", "TxnMarker", "executor-", "persister-",
        "PersisterState", "client-metrics-", "network-partit", "LogDirFailure", "SensorExpiry", "AddPartitionsTo")) {
      if (comm.startsWith(broker)) {
        return GROUPS.get(3);
      }
    }
    return GROUPS.get(6);
  }

  /** What one reading saw. */
  record Reading(long epochMs, long machineBusy, Procs.Stat router, Map<Integer, Procs.Stat> routerThreads,
      Procs.Stat redis, Map<Integer, Procs.Stat> postgres, Procs.Stat sink, Procs.Stat load,
      Map<String, long[]> commandStats) {
  }

  private final Args args;
  private final int routerPid;
  private final int sinkPid;
  private final String redisHost;
  private final int redisPort;
  private final int redisPid;
  private final int postmasterPid;

  private Cost(Args args) throws IOException {
    this.args = args;
    this.routerPid = (int) args.getLong("routerPid", -1);
    this.sinkPid = (int) args.getLong("sinkPid", -1);
    String[] redis = args.get("redis").split(":");
    this.redisHost = redis[0];
    this.redisPort = Integer.parseInt(redis[1]);
    this.redisPid = Integer.parseInt(info(redisHost, redisPort, "server").getOrDefault("process_id", "-1"));
    int pgPort = (int) args.getLong("pgPort", 5432);
    this.postmasterPid = Procs.listener(pgPort);
    if (Procs.process(routerPid) == null) {
      throw new IllegalArgumentException("--routerPid " + routerPid + " is not a running process");
    }
    if (postmasterPid < 0) {
      throw new IllegalArgumentException("no process that this user can see listens on --pgPort " + pgPort);
    }
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, 0);
    ObjectNode result = new Cost(args).run();
    String text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result);
    Files.writeString(Path.of(args.get("out")), text);
    System.out.println(text);
    System.exit(0);
  }

  private ObjectNode run() throws Exception {
    String jcmd = args.get("jcmd", null);
    Path jfr = jcmd == null ? null : Path.of(args.get("jfr"));
    long idleMs = Math.round(args.getDouble("idleSecs", 0) * 1000);
    Reading idleStart = null;
    Reading idleEnd = null;
    if (idleMs > 0) {
      long self = ProcessHandle.current().pid();
      idleStart = read(self);
      Thread.sleep(idleMs);
      idleEnd = read(self);
    }
    List<String> load = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), RateLoad.class.getName(), "--marks", "true"));
    for (String name : List.of("url", "key", "rate", "seconds", "warmup", "batch", "mix", "users", "connections")) {
      String value = args.get(name, null);
      if (value != null) {
        load.addAll(List.of("--" + name, value));
      }
    }
    Path loadOut = Path.of(args.get("out") + ".load.json");
    load.addAll(List.of("--out", loadOut.toString()));
    Process generator = new ProcessBuilder(load).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    Reading start = null;
    Reading end = null;
    try (BufferedReader lines = new BufferedReader(new InputStreamReader(generator.getInputStream(),
        StandardCharsets.UTF_8))) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        if (line.startsWith("MARK measure-start")) {
          start = read(generator.pid());
        } else if (line.startsWith("MARK measure-end")) {
          end = read(generator.pid());
        }
      }
    }
    if (!generator.waitFor(120, TimeUnit.SECONDS) || generator.exitValue() != 0 || start == null || end == null) {
      throw new IllegalStateException("the load generator failed (exit " + (generator.isAlive() ? "none"
          : generator.exitValue()) + ", window marks " + (start != null) + "/" + (end != null) + ")");
    }
    ObjectNode loadResult = (ObjectNode) JSON.readTree(loadOut.toFile());
    ObjectNode stages = null;
    if (jcmd != null) {
      command(jcmd, Integer.toString(routerPid), "JFR.dump", "name=" + args.get("jfrName"), "filename=" + jfr);
      stages = JfrTop.eventLoopStages(jfr, start.epochMs(), end.epochMs());
      Files.deleteIfExists(jfr);
    }
    ObjectNode result = result(start, end, loadResult, stages);
    if (idleStart != null) {
      idle(result, idleStart, idleEnd);
    }
    return result;
  }

  /** CPU ms per second of each process while nothing was sent (the load generator's row is this tool, idle). */
  private void idle(ObjectNode result, Reading start, Reading end) {
    double seconds = (end.epochMs() - start.epochMs()) / 1000.0;
    double msPerTick = 1000.0 / Procs.TICKS_PER_SECOND;
    ObjectNode idle = result.putObject("idle");
    idle.put("seconds", seconds);
    idle.put("router JVM", Report.round2(delta(start.router(), end.router()) * msPerTick / seconds));
    idle.put("Redis server", Report.round2(delta(start.redis(), end.redis()) * msPerTick / seconds));
    idle.put("Postgres (postmaster and its children)",
        Report.round2(postgresDelta(start.postgres(), end.postgres()) * msPerTick / seconds));
    idle.put("webhook sink", Report.round2(delta(start.sink(), end.sink()) * msPerTick / seconds));
    idle.put("whole machine (every process, /proc/stat)",
        Report.round2((end.machineBusy() - start.machineBusy()) * msPerTick / seconds));
    ObjectNode groups = idle.putObject("routerThreadGroups");
    threadGroups(start, end).forEach((name, g) -> groups.put(name, Report.round2(g[0] * msPerTick / seconds)));
  }

  private Reading read(long loadPid) throws IOException {
    Map<Integer, Procs.Stat> all = Procs.all();
    Map<Integer, Procs.Stat> postgres = new TreeMap<>();
    for (int pid : Procs.tree(postmasterPid, all)) {
      postgres.put(pid, all.get(pid));
    }
    return new Reading(System.currentTimeMillis(), Procs.machineBusyTicks(), Procs.process(routerPid),
        Procs.threads(routerPid), redisPid > 0 ? Procs.process(redisPid) : null, postgres,
        sinkPid > 0 ? Procs.process(sinkPid) : null, Procs.process(loadPid), commandStats());
  }

  private ObjectNode result(Reading start, Reading end, ObjectNode load, ObjectNode stages) {
    long events = load.path("measuredOkEvents").asLong();
    double windowSec = (end.epochMs() - start.epochMs()) / 1000.0;
    double perEvent = events == 0 ? 0 : 1e6 / Procs.TICKS_PER_SECOND / events; // µs per tick, per event
    ObjectNode out = JSON.createObjectNode();
    out.put("label", args.get("label"));
    out.put("services", args.get("services", "embedded"));
    out.put("mix", load.path("mix").asText());
    out.put("users", args.getLong("users", 500));
    out.put("eventsPerRequest", load.path("eventsPerRequest").asInt());
    out.put("offeredRate", load.path("offeredRate").asDouble());
    out.put("warmupSecs", args.getDouble("warmup", 0));
    out.put("windowSecs", windowSec);
    out.put("events", events);
    out.put("achievedRate", Report.round(events / Math.max(windowSec, 1e-3)));
    out.put("loadErrors", load.path("errorCount").asLong());
    out.set("loadErrorsByKind", load.path("errors"));
    out.set("clientLatencyMs", load.path("latencyMs"));
    out.put("ticksPerSecond", Procs.TICKS_PER_SECOND);
    out.put("redisPid", redisPid);
    out.put("postmasterPid", postmasterPid);

    ArrayNode processes = out.putArray("processes");
    long router = delta(start.router(), end.router());
    process(processes, "router JVM", "router", router, perEvent, "");
    long redis = delta(start.redis(), end.redis());
    process(processes, "Redis server", "server", redis, perEvent, "pid " + redisPid);
    long postgres = postgresDelta(start.postgres(), end.postgres());
    process(processes, "Postgres (postmaster and its children)", "server", postgres, perEvent,
        "pid " + postmasterPid + " and " + (end.postgres().size() - 1) + " children");
    out.put("pipelineTicks", router + redis + postgres);
    out.put("pipelineUsPerEvent", Report.round2((router + redis + postgres) * perEvent));
    process(processes, "webhook sink", "not the router", delta(start.sink(), end.sink()), perEvent, "");
    process(processes, "load generator (RateLoad)", "not the router", delta(start.load(), end.load()), perEvent, "");
    process(processes, "whole machine (every process, /proc/stat)", "machine",
        end.machineBusy() - start.machineBusy(), perEvent, "includes other users' processes");

    ArrayNode groups = out.putArray("routerThreadGroups");
    Map<String, long[]> byGroup = threadGroups(start, end);
    long threadSum = byGroup.values().stream().mapToLong(g -> g[0]).sum();
    byGroup.forEach((name, g) -> groups.addObject().put("group", name).put("ticks", g[0]).put("threads", g[1])
        .put("usPerEvent", Report.round2(g[0] * perEvent)));
    // Threads that ended inside the window: their time is in the process's total, not in any live thread. The
    // process and its threads are read a few milliseconds apart, so this row also holds that skew (either sign).
    groups.addObject().put("group", "threads that ended in the window, and reading skew")
        .put("ticks", router - threadSum)
        .put("threads", 0).put("usPerEvent", Report.round2((router - threadSum) * perEvent));

    if (stages != null) {
      long loopTicks = byGroup.get(GROUPS.get(0))[0];
      ObjectNode split = out.putObject("eventLoopStages");
      split.put("samples", stages.path("samples").asLong());
      ArrayNode rows = split.putArray("stages");
      for (var stage : stages.path("stages")) {
        double share = stage.path("samples").asDouble() / Math.max(1, stages.path("samples").asLong());
        rows.addObject().put("stage", stage.path("name").asText()).put("samples", stage.path("samples").asLong())
            .put("share", Report.round2(100 * share)).put("usPerEvent", Report.round2(share * loopTicks * perEvent));
      }
    }

    ObjectNode redisStats = out.putObject("redisCommands");
    ArrayNode commands = redisStats.putArray("commands");
    long usec = 0;
    long scriptUsec = 0;
    Map<String, long[]> diff = new TreeMap<>();
    end.commandStats().forEach((command, after) -> {
      long[] before = start.commandStats().getOrDefault(command, new long[2]);
      if (after[0] - before[0] > 0) {
        diff.put(command, new long[] {after[0] - before[0], after[1] - before[1]});
      }
    });
    List<Map.Entry<String, long[]>> sorted = new ArrayList<>(diff.entrySet());
    sorted.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
    for (Map.Entry<String, long[]> e : sorted) {
      long calls = e.getValue()[0];
      long micros = e.getValue()[1];
      usec += micros;
      if (Set.of("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro").contains(e.getKey())) {
        scriptUsec += micros;
      }
      commands.addObject().put("command", e.getKey()).put("calls", calls).put("usec", micros)
          .put("callsPerEvent", events == 0 ? 0 : Math.round(1000.0 * calls / events) / 1000.0)
          .put("usPerCall", Report.round2((double) micros / calls))
          .put("usPerEvent", events == 0 ? 0 : Report.round2((double) micros / events));
    }
    redisStats.put("usec", usec);
    redisStats.put("usPerEvent", events == 0 ? 0 : Report.round2((double) usec / events));
    redisStats.put("scriptUsPerEvent", events == 0 ? 0 : Report.round2((double) scriptUsec / events));
    return out;
  }

  /** The router's CPU ticks between two readings by thread group: {ticks, threads}. */
  private static Map<String, long[]> threadGroups(Reading start, Reading end) {
    Map<String, long[]> byGroup = new LinkedHashMap<>();
    GROUPS.forEach(g -> byGroup.put(g, new long[2]));
    for (Procs.Stat thread : end.routerThreads().values()) {
      Procs.Stat before = start.routerThreads().get(thread.pid());
      // A thread that the window saw start counts whole; a reused tid with another name counts as new.
      long ticks = before == null || !before.comm().equals(thread.comm()) ? thread.ticks()
          : thread.ticks() - before.ticks();
      long[] g = byGroup.get(group(thread.comm()));
      g[0] += ticks;
      g[1]++;
    }
    return byGroup;
  }

  private static void process(ArrayNode processes, String name, String role, long ticks, double perEvent,
      String note) {
    processes.addObject().put("name", name).put("role", role).put("ticks", ticks)
        .put("usPerEvent", Report.round2(ticks * perEvent)).put("note", note);
  }

  private static long delta(Procs.Stat before, Procs.Stat after) {
    return before == null || after == null ? 0 : after.ticks() - before.ticks();
  }

  /**
   * Postgres's processes: each child alive at the end, from its start-of-window reading (or whole, if it started in
   * the window), plus what the postmaster reaped from the children that ended in the window.
   */
  private long postgresDelta(Map<Integer, Procs.Stat> before, Map<Integer, Procs.Stat> after) {
    long sum = 0;
    for (Procs.Stat stat : after.values()) {
      Procs.Stat was = before.get(stat.pid());
      sum += was == null ? stat.ticks() : stat.ticks() - was.ticks();
    }
    Procs.Stat postmasterBefore = before.get(postmasterPid);
    Procs.Stat postmasterAfter = after.get(postmasterPid);
    if (postmasterBefore != null && postmasterAfter != null) {
      sum += postmasterAfter.childTicks() - postmasterBefore.childTicks();
    }
    return sum;
  }

  /** Per command: {calls, usec}, from {@code INFO commandstats}. */
  private Map<String, long[]> commandStats() throws IOException {
    Map<String, long[]> out = new TreeMap<>();
    info(redisHost, redisPort, "commandstats").forEach((key, value) -> {
      if (key.startsWith("cmdstat_")) {
        long calls = 0;
        long usec = 0;
        for (String part : value.split(",")) {
          String[] kv = part.split("=");
          if (kv[0].equals("calls")) {
            calls = Long.parseLong(kv[1]);
          } else if (kv[0].equals("usec")) {
            usec = Long.parseLong(kv[1]);
          }
        }
        out.put(key.substring("cmdstat_".length()), new long[] {calls, usec});
      }
    });
    return out;
  }

  /** {@code INFO section} over a plain socket (RESP), as key → value. */
  static Map<String, String> info(String host, int port, String section) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), 2_000);
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      out.write(("*2\r\n$4\r\nINFO\r\n$" + section.length() + "\r\n" + section + "\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String header = readLine(in);
      if (!header.startsWith("$")) {
        throw new IOException("Redis answered INFO with " + header);
      }
      byte[] body = in.readNBytes(Integer.parseInt(header.substring(1)));
      Map<String, String> values = new LinkedHashMap<>();
      for (String line : new String(body, StandardCharsets.UTF_8).split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && !line.startsWith("#")) {
          values.put(line.substring(0, colon), line.substring(colon + 1));
        }
      }
      return values;
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException("Redis closed the connection");
      }
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return line.toString();
  }

  private static void command(String... command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    CompletableFuture<byte[]> output = CompletableFuture.supplyAsync(() -> {
      try {
        return process.getInputStream().readAllBytes();
      } catch (IOException e) {
        return new byte[0];
      }
    });
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: "
          + new String(output.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8));
    }
  }
}
