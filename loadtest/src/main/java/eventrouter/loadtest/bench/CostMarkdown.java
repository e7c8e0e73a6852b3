package eventrouter.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * Renders the "Cost per event" section from {@code results.json}'s {@code cost} array (one entry per {@link Cost}
 * run): CPU µs per event by process, router thread group and event-loop stage, and Redis's commands. Only formats.
 */
final class CostMarkdown {
  private final JsonNode runs;
  private final JsonNode meta;
  private final StringBuilder md = new StringBuilder();
  /** The run being rendered had no acknowledged event: a per-event figure is "-", not 0. */
  private boolean noEvents;

  CostMarkdown(JsonNode runs, JsonNode meta) {
    this.runs = runs;
    this.meta = meta;
  }

  String render(String heading) {
    line(heading + " Cost per event");
    line("");
    if (runs.isEmpty()) {
      line("Not measured in this run.");
      line("");
      return md.toString();
    }
    JsonNode first = runs.get(0);
    line("CPU time per event, read from `/proc` (`utime + stime`, " + first.path("ticksPerSecond").asInt()
        + " ticks a second) at the start and the end of a fixed-rate window of `eventrouter.loadtest.bench.RateLoad`"
        + " (open model, " + Report.num(first.path("warmupSecs").asDouble()) + " s of warm-up first), divided by the"
        + " events it got acknowledged in that window (measured by `eventrouter.loadtest.bench.Cost`). The load is"
        + " the `shop` mix: round-robin over " + first.path("users").asInt() + " known users (userId and"
        + " anonymousId), each walking a 20-step journey of the shapes `conf/rules.json` reacts to (Product Viewed with"
        + " a category, Product Added, Checkout Started, Order Completed, Login Failed with `context.ip`, Subscription"
        + " Cancelled, page calls, an identify with an `ltv` trait); single events go to `/v1/<type>`, batches to"
        + " `/v1/batch`. The work an event causes after its ack (real time, delivery, warehouse) lands in the window"
        + " as the work of the events acknowledged just before it does, so at a steady rate the two even out; each"
        + " column says whether every consumer group kept up.");
    line("");
    line("- **Router JVM by thread group**: each thread's CPU from `/proc/PID/task/TID/stat`, grouped by its name"
        + " (`vert.x-eventloop-thread-*`; `vert.x-worker-thread-*`; Kafka clients: `vert.x-kafka-consumer-thread-*`,"
        + " `kafka-producer-network-thread`, the consumers' heartbeat and the admin client; the embedded broker:"
        + " `data-plane-kafka-*`, raft, controller, coordinators, purgatories; GC; the C1/C2 compilers). In the"
        + " embedded runs the Kafka broker lives in the router's JVM, so its cost is in the router's total;"
        + " Kafka is embedded in every run.");
    line("- **Event loops by stage**: a JFR recording of the same window (CPU samples every 10 ms, the JDK's default"
        + " settings otherwise; about 1% overhead, paid in every column). A sample on an event-loop thread counts"
        + " toward the innermost frame in a stage package (`eventrouter.ingest.`, `.realtime.`, `.delivery.`,"
        + " `.warehouse.`, `.traits.`, `.admin.`), so the helpers a stage calls (`eventrouter.log.`,"
        + " `eventrouter.rules.`) and the libraries under them count toward it; \"no router frame\" is Netty, Vert.x"
        + " and client callbacks that had not reached router code. The stage rows split the event-loop row by those"
        + " sample shares.");
    line("- **Redis**: the server process's CPU, and `INFO commandstats` read at both ends (the difference: nothing"
        + " is reset). Commands that a Lua script runs are counted by Redis both under `evalsha` and under their own"
        + " name, so the Σ usec row counts them twice; `evalsha`'s own row is the scripts' whole time. usec is"
        + " the wall time Redis spent in the command, which on a busy machine includes the time Redis was not on a"
        + " core: it can exceed the process's CPU.");
    line("- **Postgres**: the postmaster and every process below it (backends, WAL writer, checkpointer, ...), plus"
        + " what the postmaster reaped from children that ended in the window.");
    line("- **Embedded** runs: Redis and Postgres are the router's child processes (as README runs it), used by"
        + " nothing else. **External** runs: a router started with `ROUTER_REDIS_URL` / `ROUTER_PG_URL` pointing at"
        + " this machine's Redis and Postgres servers (a key prefix and a database of the run's own), so their"
        + " process CPU includes whatever else used those servers in the window; the Redis command stats are the"
        + " router's commands plus any other client's.");
    JsonNode external = meta.path("externalServices");
    if (external.isObject()) {
      line("- External services in this run: " + external.path("redis").asText() + "; "
          + external.path("postgres").asText() + ".");
    }
    line("- The webhook sink and the load generator run on the same 2 cores but are not the router: shown apart,"
        + " not in the total. \"Whole machine\" is every process's CPU (`/proc/stat`), other users' included.");
    line("");

    List<String> header = new ArrayList<>();
    for (JsonNode run : runs) {
      header.add(run.path("services").asText() + ", " + (run.path("eventsPerRequest").asInt() > 1 ? "batches of "
          + run.path("eventsPerRequest").asInt() : "single events") + " at " + Report.num(run.path("offeredRate")
          .asDouble()) + " events/s");
    }
    line("| CPU µs per event | " + String.join(" | ", header) + " |");
    line("|---|" + "---|".repeat(runs.size()));
    row("events acknowledged in the window (s)", r -> Report.num(r.path("events").asDouble()) + " ("
        + String.format(Locale.ROOT, "%.1f", r.path("windowSecs").asDouble()) + " s, " + Report.num(r.path(
        "achievedRate").asDouble()) + "/s)");
    row("load errors; client p99", r -> r.path("loadErrors").asLong() + "; " + String.format(Locale.ROOT, "%.1f ms",
        r.path("clientLatencyMs").path("p99").asDouble()));
    row("rate held (0 errors, >= 99% of the offered rate acknowledged)", r -> r.path("loadErrors").asLong() == 0
        && r.path("achievedRate").asDouble() >= 0.99 * r.path("offeredRate").asDouble() ? "yes" : "**no**: these"
        + " figures are not a steady state");
    row("every consumer group kept up", r -> !r.has("pipelineKeptUp") ? "not checked"
        : r.path("pipelineKeptUp").asBoolean() ? "yes" : "**no**" + (r.path("groupsBehind").isEmpty() ? ""
        : " (" + join(r.path("groupsBehind")) + " behind)"));
    row("**router JVM**", r -> "**" + us(process(r, "router JVM")) + "**");
    for (String group : Cost.GROUPS) {
      row("&nbsp;&nbsp;" + group, r -> us(group(r, group)));
      if (group.equals(Cost.GROUPS.get(0))) {
        for (String stage : stages()) {
          row("&nbsp;&nbsp;&nbsp;&nbsp;↳ " + stage + " (JFR share)", r -> {
            for (JsonNode s : r.path("eventLoopStages").path("stages")) {
              if (s.path("stage").asText().equals(stage)) {
                return us(s.path("usPerEvent")) + " (" + s.path("share").asDouble() + "%)";
              }
            }
            return r.has("eventLoopStages") ? "0" : "-";
          });
        }
      }
    }
    row("&nbsp;&nbsp;threads that ended in the window, and reading skew",
        r -> us(group(r, "threads that ended in the window, and reading skew")));
    row("**Redis server** (process)", r -> "**" + us(process(r, "Redis server")) + "**");
    row("&nbsp;&nbsp;Redis commands, Σ usec (commandstats)", r -> us(r.path("redisCommands").path("usPerEvent")));
    row("&nbsp;&nbsp;of which scripts (`evalsha`)", r -> us(r.path("redisCommands").path("scriptUsPerEvent")));
    row("**Postgres** (postmaster and children)", r -> "**" + us(process(r, "Postgres (postmaster and its children)"))
        + "**");
    row("**total: router + Redis + Postgres**", r -> "**" + us(r.path("pipelineUsPerEvent")) + "**");
    row("webhook sink (not the router)", r -> us(process(r, "webhook sink")));
    row("load generator (not the router)", r -> us(process(r, "load generator (RateLoad)")));
    row("whole machine (every process)", r -> us(process(r, "whole machine (every process, /proc/stat)")));
    line("");
    if (runs.get(0).has("idle")) {
      line("Idle, before each column's load (" + Report.num(runs.get(0).path("idle").path("seconds").asDouble())
          + " s with nothing sent, after the previous run had drained): CPU **ms per second** of each process,"
          + " what it burns with nothing to do (pollers, timers, the broker). At a rate of R events/s it adds"
          + " 1000 × (this) ÷ R µs to each event above.");
      line("");
      line("| CPU ms per second, idle | " + String.join(" | ", header) + " |");
      line("|---|" + "---|".repeat(runs.size()));
      for (String name : List.of("router JVM", "Redis server", "Postgres (postmaster and its children)",
          "webhook sink", "whole machine (every process, /proc/stat)")) {
        row(name, r -> ms(r.path("idle").path(name)));
        if (name.equals("router JVM")) {
          for (String group : Cost.GROUPS) {
            row("&nbsp;&nbsp;" + group, r -> ms(r.path("idle").path("routerThreadGroups").path(group)));
          }
        }
      }
      line("");
    }

    line("Redis commands per event (`INFO commandstats`, difference over the window): calls per event, and µs per"
        + " call.");
    line("");
    line("| command | " + String.join(" | ", header) + " |");
    line("|---|" + "---|".repeat(runs.size()));
    Set<String> commands = new LinkedHashSet<>();
    runs.forEach(run -> run.path("redisCommands").path("commands").forEach(c -> commands.add(c.path("command")
        .asText())));
    for (String command : commands) {
      row("`" + command + "`", r -> {
        for (JsonNode c : r.path("redisCommands").path("commands")) {
          if (c.path("command").asText().equals(command)) {
            return c.path("callsPerEvent").asDouble() + " × " + String.format(Locale.ROOT, "%.2f", c.path(
                "usPerCall").asDouble()) + " µs";
          }
        }
        return "-";
      });
    }
    line("");
    return md.toString();
  }

  /** COST.md, as {@code bench.sh --cost} writes it: a title, where and when it was measured, then the section. */
  static String costOnly(JsonNode results) {
    JsonNode meta = results.path("meta");
    return "# Cost per event\n\nGenerated by `loadtest/bench.sh --cost` on " + meta.path("date").asText()
        + " from commit `" + meta.path("commit").asText() + "`" + (meta.path("dirtyFiles").asInt() > 0 ? " (with "
        + meta.path("dirtyFiles").asInt() + " uncommitted changes)" : "") + ", on " + meta.path("cpu").asText()
        + " (load average at start " + meta.path("loadAverageAtStart").asText() + "). Router JVM flags: "
        + meta.path("routerFlags").asText("-") + ". One run per column: compare two runs' columns only as far as the"
        + " machine's noise allows (other engineers' builds share the 2 cores: see \"whole machine\"). The raw"
        + " measurements are in `target/bench/raw-cost/cost-*.json`.\n\n"
        + new CostMarkdown(results.path("cost"), meta).render("##");
  }

  /** The stage names of every run, in the order of the first run's ranking. */
  private List<String> stages() {
    Set<String> names = new LinkedHashSet<>();
    runs.forEach(run -> run.path("eventLoopStages").path("stages").forEach(s -> names.add(s.path("stage").asText())));
    return new ArrayList<>(names);
  }

  private void row(String name, Function<JsonNode, String> cell) {
    StringBuilder out = new StringBuilder("| ").append(name);
    runs.forEach(run -> {
      noEvents = run.path("events").asLong() == 0;
      out.append(" | ").append(cell.apply(run));
    });
    line(out.append(" |").toString());
  }

  private static JsonNode process(JsonNode run, String name) {
    for (JsonNode p : run.path("processes")) {
      if (p.path("name").asText().equals(name)) {
        return p.path("usPerEvent");
      }
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }

  private static JsonNode group(JsonNode run, String name) {
    for (JsonNode g : run.path("routerThreadGroups")) {
      if (g.path("group").asText().equals(name)) {
        return g.path("usPerEvent");
      }
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }

  private static String ms(JsonNode value) {
    return value.isNumber() ? String.format(Locale.ROOT, "%.1f", value.asDouble()) : "-";
  }

  private String us(JsonNode value) {
    return value.isNumber() && !noEvents ? String.format(Locale.ROOT, value.asDouble() >= 100 ? "%,.0f" : "%.1f",
        value.asDouble()) : "-";
  }

  private static String join(JsonNode texts) {
    List<String> out = new ArrayList<>();
    texts.forEach(t -> out.add(t.asText()));
    return String.join(", ", out);
  }

  private void line(String text) {
    md.append(text).append('\n');
  }
}
