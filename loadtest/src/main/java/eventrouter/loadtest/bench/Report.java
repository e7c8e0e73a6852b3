package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Turns the raw measurements that {@code bench.sh} leaves in {@code target/bench/raw} into
 * {@code target/bench/results.json} and {@code BENCHMARKS.md}. Every number in both comes from a raw file of the same
 * run; nothing is typed in. Each figure is the median of the runs, with their min and max.
 *
 * <pre>java -cp ... eventrouter.loadtest.bench.Report --raw DIR --notes FILE --json FILE --markdown FILE
 *     [--costOnly true]</pre>
 * With {@code --costOnly true} (what {@code bench.sh --cost} leaves), only the cost runs ({@code cost-*.json}) are
 * read, and the markdown is the "Cost per event" section alone, which is also printed to stdout.
 */
public final class Report {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String PENDING_DELIVERY = "pending: delivery not yet merged (the router sent nothing to the webhook"
      + " sink configured in conf/destinations.json)";
  static final String PENDING_WS = "pending: WebSocket streaming not yet merged (/v1/stream does not upgrade)";

  /** The stages of {@code router.realtime.stage}, in the order an event passes them. */
  static final List<String> STAGES = List.of("log", "queue", "state", "rules", "effects", "signals", "total");

  private final Path raw;
  private final JsonNode meta;
  private final int repeat;
  private final int batchSize;
  /** The consumer group whose lag also counts the deliveries parked in Postgres. */
  private final String deliveryGroup;

  private Report(Path raw) throws IOException {
    this.raw = raw;
    this.meta = read("meta.json");
    this.repeat = meta.path("repeat").asInt(1);
    this.batchSize = meta.path("batchSize").asInt(100);
    String delivery = "router-delivery.bench-sink";
    for (JsonNode group : meta.path("consumerGroups")) {
      if (group.path("role").asText().equals("delivery")) {
        delivery = group.path("group").asText();
      }
    }
    this.deliveryGroup = delivery;
  }

  public static void main(String[] argv) throws IOException {
    Args args = new Args(argv, 0);
    Report report = new Report(Path.of(args.get("raw")));
    if (Boolean.parseBoolean(args.get("costOnly", "false"))) {
      ObjectNode results = JSON.createObjectNode();
      results.set("meta", report.meta);
      results.set("cost", report.cost());
      Files.writeString(Path.of(args.get("json")), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(results));
      String text = CostMarkdown.costOnly(results);
      Files.writeString(Path.of(args.get("markdown")), text);
      System.out.println(text);
      return;
    }
    ObjectNode results = report.results();
    Files.createDirectories(Path.of(args.get("json")).toAbsolutePath().getParent());
    Files.writeString(Path.of(args.get("json")), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(results));
    Path notes = Path.of(args.get("notes"));
    String notesText = Files.exists(notes) ? Files.readString(notes) : "";
    Files.writeString(Path.of(args.get("markdown")), new Markdown(results, notesText).render());
  }

  // ---- results.json -------------------------------------------------------------------------------------------------

  private ObjectNode results() throws IOException {
    ObjectNode out = JSON.createObjectNode();
    out.set("meta", meta);
    ObjectNode baseline = out.putObject("baseline");
    baseline.set("single", wrkFigure("baseline-single", 1, false));
    baseline.set("batch", wrkFigure("baseline-batch", batchSize, false));
    ObjectNode router = out.putObject("router");
    ObjectNode single = wrkFigure("router-single", 1, true);
    ObjectNode batch = wrkFigure("router-batch", batchSize, true);
    single.put("ratioToBaseline", ratio(single, baseline.get("single")));
    batch.put("ratioToBaseline", ratio(batch, baseline.get("batch")));
    router.set("single", single);
    router.set("batch", batch);

    boolean delivery = read("delivery.json").path("delivery").asText().equals("present");
    ArrayNode rates = out.putArray("rates");
    for (JsonNode rate : meta.path("rates")) {
      rates.add(rateFigure(rate.asInt(), delivery));
    }
    out.set("memory", memory());
    out.set("websocketPush", pushFigure());
    out.set("typedTables", typedFigure());
    ObjectNode profiles = out.putObject("profiles");
    for (String shape : List.of("single", "batch")) {
      if (Files.exists(raw.resolve("jfr-" + shape + ".json"))) {
        ObjectNode profile = (ObjectNode) read("jfr-" + shape + ".json");
        JsonNode wrk = read("jfr-" + shape + ".wrk.json");
        profile.put("eventsPerSecWhileRecorded", round(wrk.path("requests").asDouble()
            / (wrk.path("durationUs").asDouble() / 1e6) * (shape.equals("batch") ? batchSize : 1)));
        profiles.set(shape, profile);
      }
    }
    out.set("cost", cost());
    out.put("deadLettersAtEnd", deadLetters());
    out.set("otherProcesses", neighbours());
    out.set("targets", targets(out));
    return out;
  }

  /** The order of the cost runs' columns. */
  static final List<String> COST_RUNS = List.of("embedded-single", "embedded-batch", "external-single",
      "external-batch");

  /**
   * The cost runs ({@code cost-LABEL.json} from {@link Cost}), each with whether every consumer group kept up, from
   * the drain probe bench.sh runs after it ({@code cost-LABEL.drain.json}).
   */
  private ArrayNode cost() throws IOException {
    ArrayNode out = JSON.createArrayNode();
    for (String label : COST_RUNS) {
      Path file = raw.resolve("cost-" + label + ".json");
      if (!Files.exists(file)) {
        continue;
      }
      ObjectNode run = (ObjectNode) JSON.readTree(file.toFile());
      Path drain = raw.resolve("cost-" + label + ".drain.json");
      if (Files.exists(drain)) {
        ObjectNode consumers = JSON.createObjectNode();
        run.put("pipelineKeptUp", consumers(consumers, JSON.readTree(drain.toFile()),
            run.path("offeredRate").asDouble(), new HashMap<>()));
        run.set("groupsBehind", consumers.path("groupsBehind"));
        run.set("consumerLagAtEndEvents", consumers.path("consumerLagAtEndEvents"));
      }
      out.add(run);
    }
    return out;
  }

  /** Deliveries that failed for good during the benchmark (the table only grows): the most any drain probe saw. */
  private long deadLetters() throws IOException {
    long most = 0;
    try (Stream<Path> files = Files.list(raw)) {
      for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".drain.json"))::iterator) {
        most = Math.max(most, JSON.readTree(file.toFile()).path("parkedDeliveries").path("deadLettersAfter").asLong());
      }
    }
    return most;
  }

  /**
   * What else used the 2 cores while the benchmark ran: processes outside the benchmark's process tree seen above 20%
   * of a core by the 15-second sampler, grouped by pid.
   */
  private ArrayNode neighbours() throws IOException {
    ArrayNode out = JSON.createArrayNode();
    Path file = raw.resolve("neighbours.txt");
    if (!Files.exists(file)) {
      return out;
    }
    // Grouped by command line with the digits masked, so that each build's many test JVMs count as one kind.
    Map<String, ObjectNode> byKind = new LinkedHashMap<>();
    for (String line : Files.readAllLines(file)) {
      String[] parts = line.split(" ", 4);
      if (parts.length < 4) {
        continue;
      }
      double cpu = Double.parseDouble(parts[1]);
      String kind = parts[3].replaceAll("[0-9]+", "N");
      kind = kind.length() > 110 ? kind.substring(0, 110) + "..." : kind;
      ObjectNode entry = byKind.computeIfAbsent(kind, k -> {
        ObjectNode created = JSON.createObjectNode();
        created.put("command", k);
        created.put("firstSeen", parts[0]);
        created.put("samples", 0);
        created.put("maxCpuPercent", 0.0);
        created.put("sumCpuPercent", 0.0);
        return created;
      });
      entry.put("lastSeen", parts[0]);
      entry.put("samples", entry.path("samples").asInt() + 1);
      entry.put("maxCpuPercent", Math.max(entry.path("maxCpuPercent").asDouble(), cpu));
      entry.put("sumCpuPercent", entry.path("sumCpuPercent").asDouble() + cpu);
    }
    List<ObjectNode> sorted = new ArrayList<>(byKind.values());
    sorted.sort((a, b) -> Double.compare(b.path("sumCpuPercent").asDouble(), a.path("sumCpuPercent").asDouble()));
    for (ObjectNode entry : sorted) {
      entry.put("meanCpuPercentWhenSeen", round(entry.remove("sumCpuPercent").asDouble() / entry.path("samples").asInt()));
      out.add(entry);
    }
    return out;
  }

  /** Saturation throughput from wrk runs: requests/s and events/s, and for the router whether each run counts. */
  private ObjectNode wrkFigure(String prefix, int eventsPerRequest, boolean pipeline) throws IOException {
    ObjectNode figure = JSON.createObjectNode();
    ArrayNode runs = figure.putArray("runs");
    List<Double> counted = new ArrayList<>();
    List<Double> all = new ArrayList<>();
    Map<String, List<Double>> drainRates = new LinkedHashMap<>();
    for (int i = 1; i <= repeat; i++) {
      JsonNode wrk = read(prefix + "-" + i + ".wrk.json");
      double seconds = wrk.path("durationUs").asDouble() / 1e6;
      long errors = wrk.path("connectErrors").asLong() + wrk.path("readErrors").asLong()
          + wrk.path("writeErrors").asLong() + wrk.path("statusErrors").asLong() + wrk.path("timeouts").asLong();
      double eventsPerSec = wrk.path("requests").asDouble() / seconds * eventsPerRequest;
      ObjectNode run = runs.addObject();
      run.put("requestsPerSec", round(wrk.path("requests").asDouble() / seconds));
      run.put("eventsPerSec", round(eventsPerSec));
      run.put("errors", errors);
      run.put("wrkClosedLoopP50Ms", wrk.path("p50Ms").asDouble());
      run.put("wrkClosedLoopP99Ms", wrk.path("p99Ms").asDouble());
      boolean counts = errors == 0;
      if (pipeline) {
        JsonNode drain = read(prefix + "-" + i + ".drain.json");
        boolean keptUp = consumers(run, drain, eventsPerSec, drainRates);
        counts = counts && keptUp;
      }
      run.put("counts", counts);
      all.add(eventsPerSec);
      if (counts) {
        counted.add(eventsPerSec);
      }
    }
    figure.put("runsCounted", counted.size());
    if (pipeline) {
      ObjectNode rates = figure.putObject("drainEventsPerSec");
      drainRates.forEach((group, values) -> rates.set(group, stats(values)));
    }
    figure.set("eventsPerSec", stats(counted.isEmpty() ? all : counted));
    if (counted.isEmpty()) {
      figure.put("note", "no run counted (errors, or the pipeline did not keep up); the figure is over all runs");
    }
    return figure;
  }

  /**
   * The consumer groups at the end of a run, from its drain probe, into {@code run}: each group's lag (the delivery
   * group's with the deliveries parked in Postgres, which its committed offsets no longer show), the bound, the groups
   * that fell behind, and how fast each drained a backlog of 10,000 events or more once the load had stopped (its
   * ceiling on this machine), added to {@code drainRates}.
   *
   * @return whether the pipeline kept up: every group at most two seconds' worth of the run's events behind at the
   *     end, and all of it done within the probe's deadline once the load stopped
   */
  private boolean consumers(ObjectNode run, JsonNode drain, double eventsPerSec,
      Map<String, List<Double>> drainRates) {
    long bound = Math.max(1000, Math.round(2 * eventsPerSec));
    ObjectNode lags = run.putObject("consumerLagAtEndEvents");
    ObjectNode drainMs = run.putObject("consumerDrainMs");
    ArrayNode behind = run.putArray("groupsBehind");
    long parked = drain.path("parkedDeliveries").path("atEnd").asLong();
    for (JsonNode group : drain.path("groups")) {
      String name = group.path("group").asText();
      boolean withParked = name.equals(deliveryGroup) && parked > 0;
      long lag = group.path("lagAtEnd").asLong() + (withParked ? parked : 0);
      // Parked deliveries are done when the whole probe is (it waits for them last).
      boolean drained = group.path("drained").asBoolean() && (!withParked || drain.path("drained").asBoolean());
      long ms = withParked ? drain.path("drainMs").asLong() : group.path("drainMs").asLong();
      lags.put(name, lag);
      if (drained) {
        drainMs.put(name, ms);
      }
      if (lag > bound || !drained) {
        behind.add(name);
      }
      if (drained && lag >= 10_000 && ms > 0) {
        drainRates.computeIfAbsent(name, k -> new ArrayList<>()).add(lag / (ms / 1000.0));
      }
    }
    run.put("parkedDeliveriesAtEnd", parked);
    run.put("consumerLagBoundEvents", bound);
    boolean keptUp = behind.isEmpty() && drain.path("drained").asBoolean();
    run.put("pipelineKeptUp", keptUp);
    return keptUp;
  }

  /** Whether the run started with every consumer group drained (absent in older raw results: assumed). */
  private boolean startedDrained(String name) throws IOException {
    Path file = raw.resolve(name + ".start.json");
    return !Files.exists(file) || JSON.readTree(file.toFile()).path("startedDrained").asBoolean();
  }

  private ObjectNode rateFigure(int rate, boolean delivery) throws IOException {
    ObjectNode figure = JSON.createObjectNode();
    figure.put("rate", rate);
    List<JsonNode> loads = new ArrayList<>();
    List<JsonNode> lags = new ArrayList<>();
    List<JsonNode> sinks = new ArrayList<>();
    ArrayNode runs = figure.putArray("runs");
    long errors = 0;
    boolean keptUp = true;
    boolean allStartedDrained = true;
    for (int i = 1; i <= repeat; i++) {
      String name = "rate-" + rate + "-" + i;
      JsonNode load = read(name + ".load.json");
      JsonNode drain = read(name + ".drain.json");
      JsonNode lag = read(name + ".pglag.json");
      JsonNode sink = read(name + ".sink.json");
      loads.add(load);
      lags.add(lag);
      sinks.add(sink);
      errors += load.path("errorCount").asLong();
      ObjectNode run = runs.addObject();
      boolean started = startedDrained(name);
      allStartedDrained &= started;
      run.put("startedDrained", started);
      keptUp &= consumers(run, drain, rate, new HashMap<>()) && lag.path("complete").asBoolean();
      run.put("achievedRate", round(load.path("achievedRate").asDouble()));
      run.put("errors", load.path("errorCount").asLong());
      run.set("errorsByKind", load.path("errors"));
      run.set("clientLatencyMs", load.path("latencyMs"));
      run.set("serviceTimeMs", load.path("serviceTimeMs"));
      run.set("warehouseLagMs", lag);
      run.set("webhookSink", sink);
      routerMeters(name, run);
    }
    figure.put("errors", errors);
    figure.put("pipelineKeptUp", keptUp);
    figure.put("startedDrained", allStartedDrained);
    gcFigures(figure, listOf(runs));
    Set<String> behind = new LinkedHashSet<>();
    runs.forEach(run -> run.path("groupsBehind").forEach(group -> behind.add(group.asText())));
    ArrayNode behindNode = figure.putArray("groupsBehind");
    behind.forEach(behindNode::add);
    figure.set("achievedRate", stats(values(loads, n -> n.path("achievedRate"))));
    ObjectNode client = figure.putObject("clientLatencyMs");
    for (String p : List.of("p50", "p99", "p999")) {
      client.set(p, stats(values(loads, n -> n.path("latencyMs").path(p))));
    }
    ObjectNode warehouse = figure.putObject("warehouseLagMs");
    for (String p : List.of("p50", "p99", "p999", "max")) {
      warehouse.set(p, stats(values(lags, n -> n.path(p + "Ms"))));
    }
    if (delivery) {
      ObjectNode e2e = figure.putObject("endToEndWebhookMs");
      for (String p : List.of("p50", "p99", "p999")) {
        e2e.set(p, stats(values(sinks, n -> n.path(p + "Ms"))));
      }
      e2e.set("eventsReceived", stats(values(sinks, n -> n.path("events"))));
    } else {
      figure.put("endToEndWebhookMs", PENDING_DELIVERY);
    }
    return figure;
  }

  /**
   * Ingest → signal pushed over a WebSocket, from PushProbe's runs. A run counts with 0 errors, every acknowledged
   * event's push received once on its own user's socket, and the pipeline keeping up.
   */
  /**
   * The typed tables' load ({@code RateLoad --mix typed}, batches): the warehouse lag of its events, median over the
   * runs of each run's percentiles. Issue 15's target: p99 at most 1 s at 5,000 events/s.
   */
  private ObjectNode typedFigure() throws IOException {
    ObjectNode figure = JSON.createObjectNode();
    if (!Files.exists(raw.resolve("typed-1.load.json"))) {
      return figure.put("status", "not measured in this run");
    }
    figure.put("status", "measured");
    List<JsonNode> loads = new ArrayList<>();
    List<JsonNode> lags = new ArrayList<>();
    ArrayNode runs = figure.putArray("runs");
    for (int i = 1; Files.exists(raw.resolve("typed-" + i + ".load.json")); i++) {
      JsonNode load = read("typed-" + i + ".load.json");
      JsonNode lag = read("typed-" + i + ".pglag.json");
      loads.add(load);
      lags.add(lag);
      runs.addObject().put("achievedRate", round(load.path("achievedRate").asDouble()))
          .put("errors", load.path("errorCount").asLong()).put("rows", lag.path("rows").asLong())
          .put("complete", lag.path("complete").asBoolean()).set("warehouseLagMs", lag);
    }
    figure.put("rate", loads.get(0).path("offeredRate").asDouble());
    figure.put("eventsPerRequest", loads.get(0).path("eventsPerRequest").asInt());
    figure.set("achievedRate", stats(values(loads, l -> l.path("achievedRate"))));
    figure.put("errors", loads.stream().mapToLong(l -> l.path("errorCount").asLong()).sum());
    ObjectNode lag = figure.putObject("warehouseLagMs");
    for (String percentile : List.of("p50", "p99", "p999", "max")) {
      lag.set(percentile, stats(values(lags, l -> l.path(percentile + "Ms"))));
    }
    return figure;
  }

  private ObjectNode pushFigure() throws IOException {
    ObjectNode figure = JSON.createObjectNode();
    JsonNode ws = read("ws.json");
    if (!ws.path("available").asBoolean()) {
      figure.put("status", PENDING_WS + ", HTTP " + ws.path("upgradeStatus").asText());
      return figure;
    }
    JsonNode push = meta.path("push");
    figure.put("status", "measured");
    figure.put("sockets", push.path("sockets").asInt());
    figure.put("rate", push.path("rate").asDouble());
    figure.put("seconds", push.path("seconds").asInt());
    figure.put("warmupSecs", push.path("warmupSecs").asInt());
    figure.put("via", push.path("via").asText());
    ArrayNode runs = figure.putArray("runs");
    List<JsonNode> counted = new ArrayList<>();
    List<JsonNode> all = new ArrayList<>();
    long errors = 0;
    long missing = 0;
    for (int i = 1; i <= repeat; i++) {
      JsonNode probe = read("push-" + i + ".json");
      JsonNode drain = read("push-" + i + ".drain.json");
      ObjectNode run = runs.addObject();
      boolean started = startedDrained("push-" + i);
      run.put("startedDrained", started);
      boolean keptUp = consumers(run, drain, push.path("rate").asDouble(), new HashMap<>());
      for (String field : List.of("socketsBound", "acknowledged", "pushes", "missingPushes", "duplicatePushes",
          "pushesOnAnotherUsersSocket", "measuredPushes", "errorCount", "achievedRate", "latencyFrom")) {
        run.set(field, probe.path(field));
      }
      run.set("errors", probe.path("errors"));
      run.set("pushLatencyMs", probe.path("pushLatencyMs"));
      run.set("scheduledToPushMs", probe.path("scheduledToPushMs"));
      routerMeters("push-" + i, run);
      errors += probe.path("errorCount").asLong();
      missing += probe.path("missingPushes").asLong();
      boolean counts = probe.path("errorCount").asLong() == 0 && probe.path("missingPushes").asLong() == 0
          && probe.path("duplicatePushes").asLong() == 0 && probe.path("pushesOnAnotherUsersSocket").asLong() == 0
          && probe.path("measuredPushes").asLong() > 0 && keptUp && started;
      run.put("counts", counts);
      all.add(run);
      if (counts) {
        counted.add(run);
      }
    }
    figure.put("runsCounted", counted.size());
    figure.put("errors", errors);
    figure.put("missingPushes", missing);
    List<JsonNode> used = counted.isEmpty() ? all : counted;
    if (counted.isEmpty()) {
      figure.put("note", "no run counted (errors, missing pushes, or the pipeline did not keep up); the figure is"
          + " over all runs");
    }
    figure.set("achievedRate", stats(values(used, n -> n.path("achievedRate"))));
    for (String histogram : List.of("pushLatencyMs", "scheduledToPushMs")) {
      ObjectNode percentiles = figure.putObject(histogram);
      for (String p : List.of("p50", "p99", "p999", "max")) {
        percentiles.set(p, stats(values(used, n -> n.path(histogram).path(p))));
      }
    }
    ObjectNode stages = figure.putObject("stages");
    for (String stage : STAGES) {
      ObjectNode percentiles = stages.putObject(stage);
      for (String p : List.of("p50Ms", "p99Ms")) {
        percentiles.set(p, stats(values(used, n -> n.path("stages").path(stage).path(p))));
      }
    }
    gcFigures(figure, used);
    return figure;
  }

  private ObjectNode memory() throws IOException {
    ObjectNode memory = JSON.createObjectNode();
    int rate = meta.path("memRate").asInt();
    memory.put("sampledAtRate", rate);
    List<Double> heap = new ArrayList<>();
    List<Double> committed = new ArrayList<>();
    List<Double> rss = new ArrayList<>();
    for (int i = 1; i <= repeat; i++) {
      Path samples = raw.resolve("mem-" + rate + "-" + i + ".txt");
      if (!Files.exists(samples)) {
        continue;
      }
      for (String line : Files.readAllLines(samples)) {
        String[] parts = line.trim().split("\\s+");
        if (parts.length == 3) {
          heap.add(Double.parseDouble(parts[0]) / 1024);
          committed.add(Double.parseDouble(parts[1]) / 1024);
          rss.add(Double.parseDouble(parts[2]) / 1024);
        }
      }
    }
    memory.put("samples", heap.size());
    memory.set("heapUsedMB", stats(heap));
    memory.set("heapCommittedMB", stats(committed));
    memory.set("rssMB", stats(rss));
    JsonNode after = read("mem-after-gc.json");
    ObjectNode afterGc = memory.putObject("afterFullGcMB");
    afterGc.put("heapUsed", round(after.path("heapUsedKB").asDouble() / 1024));
    afterGc.put("heapCommitted", round(after.path("heapCommittedKB").asDouble() / 1024));
    afterGc.put("rss", round(after.path("rssKB").asDouble() / 1024));
    return memory;
  }

  private ArrayNode targets(ObjectNode results) {
    ArrayNode targets = JSON.createArrayNode();
    JsonNode single = results.path("router").path("single");
    target(targets, "Single-event ingest, whole pipeline live", ">= 35% of the bare baseline",
        pct(single.path("ratioToBaseline").asDouble()) + " of baseline (" + num(single.path("eventsPerSec")
            .path("median").asDouble()) + " vs " + num(results.path("baseline").path("single").path("eventsPerSec")
            .path("median").asDouble()) + " events/s)",
        single.path("ratioToBaseline").asDouble() / 0.35, single.path("runsCounted").asInt() > 0
            && single.path("ratioToBaseline").asDouble() >= 0.35, single.path("runsCounted").asInt() == 0);
    JsonNode batch = results.path("router").path("batch");
    double batchRate = batch.path("eventsPerSec").path("median").asDouble();
    target(targets, "Batched ingest, whole pipeline live", ">= 150,000 events/s", num(batchRate) + " events/s ("
            + pct(batch.path("ratioToBaseline").asDouble()) + " of the baseline's batches)",
        batchRate / 150_000, batch.path("runsCounted").asInt() > 0 && batchRate >= 150_000,
        batch.path("runsCounted").asInt() == 0);
    JsonNode at5k = null;
    for (JsonNode rate : results.path("rates")) {
      if (rate.path("rate").asInt() == 5000) {
        at5k = rate;
      }
    }
    if (at5k == null) {
      for (String name : List.of("End-to-end receivedAt -> webhook p50 at 5k/s",
          "End-to-end receivedAt -> webhook p99 at 5k/s", "Warehouse lag p99 at 5k/s")) {
        targets.addObject().put("name", name).put("verdict", "not run in this mode");
      }
    } else {
      // A latency "at 5k/s" counts only if the router held 5k/s: otherwise it describes the events it did take.
      long errors = at5k.path("errors").asLong();
      double achieved = at5k.path("achievedRate").path("median").asDouble();
      boolean held = errors == 0 && achieved >= 0.99 * 5000;
      String notHeld = held ? "" : "; the rate was not held: the router took " + num(achieved) + " of 5,000 events/s"
          + " (median), " + num(errors) + " requests failed or timed out in the 3 runs";
      JsonNode e2e = at5k.path("endToEndWebhookMs");
      if (e2e.isTextual()) {
        targets.addObject().put("name", "End-to-end receivedAt -> webhook p50 at 5k/s").put("target", "<= 2 ms")
            .put("measured", e2e.asText()).put("verdict", "pending");
        targets.addObject().put("name", "End-to-end receivedAt -> webhook p99 at 5k/s").put("target", "<= 10 ms")
            .put("measured", e2e.asText()).put("verdict", "pending");
      } else {
        double p50 = e2e.path("p50").path("median").asDouble();
        double p99 = e2e.path("p99").path("median").asDouble();
        target(targets, "End-to-end receivedAt -> webhook p50 at 5k/s", "<= 2 ms", ms(p50) + notHeld,
            2 / Math.max(p50, 1e-9), held && p50 <= 2, false, held);
        target(targets, "End-to-end receivedAt -> webhook p99 at 5k/s", "<= 10 ms", ms(p99) + notHeld,
            10 / Math.max(p99, 1e-9), held && p99 <= 10, false, held);
      }
      double lag99 = at5k.path("warehouseLagMs").path("p99").path("median").asDouble();
      target(targets, "Warehouse lag p99 at 5k/s", "<= 1000 ms", ms(lag99) + notHeld, 1000 / Math.max(lag99, 1e-9),
          held && lag99 <= 1000, false, held);
    }
    JsonNode push = results.path("websocketPush");
    if (push.path("status").asText().equals("measured")) {
      double p99 = push.path("pushLatencyMs").path("p99").path("median").asDouble();
      target(targets, "WebSocket push p99 (receivedAt -> signal frame)", "<= 15 ms", ms(p99) + " at "
              + num(push.path("rate").asDouble()) + " events/s over " + push.path("sockets").asInt() + " sockets (p50 "
              + ms(push.path("pushLatencyMs").path("p50").path("median").asDouble()) + ")",
          15 / Math.max(p99, 1e-9), push.path("runsCounted").asInt() > 0 && p99 <= 15,
          push.path("runsCounted").asInt() == 0);
    } else {
      targets.addObject().put("name", "WebSocket push p99").put("target", "<= 15 ms")
          .put("measured", push.path("status").asText()).put("verdict", "pending");
    }
    JsonNode memory = results.path("memory");
    double heap = memory.path("heapUsedMB").path("median").asDouble();
    target(targets, "Heap used at steady state (" + memory.path("sampledAtRate").asInt() + " events/s offered)", "<= 512 MB",
        num(heap) + " MB (max " + num(memory.path("heapUsedMB").path("max").asDouble()) + " MB; live after full GC "
            + num(memory.path("afterFullGcMB").path("heapUsed").asDouble()) + " MB)",
        512 / Math.max(heap, 1e-9), heap <= 512, false);
    return targets;
  }

  /** score: measured relative to the target, > 1 is better than the target. */
  private static void target(ArrayNode targets, String name, String target, String measured, double score, boolean met,
      boolean notCounted) {
    target(targets, name, target, measured, score, met, notCounted, true);
  }

  /** @param rateHeld false when the figure comes from a fixed rate the router did not hold */
  private static void target(ArrayNode targets, String name, String target, String measured, double score, boolean met,
      boolean notCounted, boolean rateHeld) {
    ObjectNode row = targets.addObject();
    row.put("name", name);
    row.put("target", target);
    row.put("measured", measured);
    row.put("ratioToTarget", round2(score));
    row.put("verdict", notCounted ? "missed (no run counted)" : !rateHeld ? "missed (rate not held)"
        : met ? "met" : "missed");
  }

  /**
   * The router's own meters over one run, from the scrapes bench.sh takes before and after it ({@code
   * NAME.metrics-before.prom}, {@code NAME.metrics-after.prom}; absent in older raw results): the real-time path's
   * stages and the JVM's GC pauses.
   */
  private void routerMeters(String name, ObjectNode run) throws IOException {
    Path before = raw.resolve(name + ".metrics-before.prom");
    Path after = raw.resolve(name + ".metrics-after.prom");
    if (!Files.exists(before) || !Files.exists(after)) {
      return;
    }
    Scrape from = Scrape.read(before);
    Scrape to = Scrape.read(after);
    ObjectNode stages = run.putObject("stages");
    for (String stage : STAGES) {
      Scrape.Histogram histogram = Scrape.histogram(from, to, "router_realtime_stage_seconds", "stage", stage);
      ObjectNode node = stages.putObject(stage);
      node.put("count", histogram.count());
      if (histogram.count() > 0) {
        node.put("p50Ms", round2(histogram.p50Ms()));
        node.put("p99Ms", round2(histogram.p99Ms()));
      }
    }
    ObjectNode gc = run.putObject("gc");
    gc.put("pauses", Math.round(Scrape.delta(from, to, "jvm_gc_pause_seconds_count")));
    gc.put("pauseMs", round2(1000 * Scrape.delta(from, to, "jvm_gc_pause_seconds_sum")));
  }

  /** The router's GC pauses per run (count, and their total ms) over {@code runs}, as medians with min and max. */
  private static void gcFigures(ObjectNode figure, List<JsonNode> runs) {
    figure.set("gcPauses", stats(values(runs, n -> n.path("gc").path("pauses"))));
    figure.set("gcPauseMs", stats(values(runs, n -> n.path("gc").path("pauseMs"))));
  }

  private static List<JsonNode> listOf(ArrayNode array) {
    List<JsonNode> out = new ArrayList<>();
    array.forEach(out::add);
    return out;
  }

  // ---- helpers ------------------------------------------------------------------------------------------------------

  private JsonNode read(String name) throws IOException {
    Path file = raw.resolve(name);
    if (!Files.exists(file)) {
      throw new IOException("missing raw result " + file + ": the benchmark did not finish");
    }
    return JSON.readTree(file.toFile());
  }

  private static List<Double> values(List<JsonNode> nodes, Function<JsonNode, JsonNode> field) {
    List<Double> out = new ArrayList<>();
    for (JsonNode node : nodes) {
      JsonNode value = field.apply(node);
      if (value.isNumber()) {
        out.add(value.asDouble());
      }
    }
    return out;
  }

  static ObjectNode stats(List<Double> values) {
    ObjectNode node = JSON.createObjectNode();
    node.put("n", values.size());
    if (values.isEmpty()) {
      return node;
    }
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(Double::compare);
    int n = sorted.size();
    double median = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    node.put("median", round2(median));
    node.put("min", round2(sorted.get(0)));
    node.put("max", round2(sorted.get(n - 1)));
    return node;
  }

  private static double ratio(JsonNode router, JsonNode baseline) {
    double base = baseline.path("eventsPerSec").path("median").asDouble();
    return base == 0 ? 0 : Math.round(10_000 * router.path("eventsPerSec").path("median").asDouble() / base) / 10_000.0;
  }

  static double round(double value) {
    return Math.round(value);
  }

  static double round2(double value) {
    return Math.round(value * 100) / 100.0;
  }

  static String num(double value) {
    return String.format(Locale.ROOT, "%,.0f", value);
  }

  static String pct(double ratio) {
    return String.format(Locale.ROOT, "%.1f%%", ratio * 100);
  }

  static String ms(double value) {
    return String.format(Locale.ROOT, "%.2f ms", value);
  }
}
