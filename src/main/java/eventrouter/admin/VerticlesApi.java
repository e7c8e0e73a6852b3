package eventrouter.admin;

import eventrouter.cluster.Instances;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

/**
 * {@code GET /admin/verticles}: this node's verticles and their instance counts, and for the readers of the log, their
 * consumer groups as Kafka sees them: every member on every node, and the partitions each holds. So an operator sees
 * who owns what after a node joins, restarts or dies. {@code PUT /admin/verticles/<kind>} changes a count live.
 */
public final class VerticlesApi {
  /** The instance counts an operator may set, for every kind. */
  static final int MAX_INSTANCES = 32;

  /**
   * One kind of verticle on this node.
   *
   * @param instances how many run now
   * @param groups the consumer groups its instances are members of
   * @param scaling its instances, to change the count; null for a kind that runs one instance per node
   */
  public record Kind(String name, IntSupplier instances, List<String> groups, Supplier<Instances> scaling) {
  }

  private final Admin kafka;
  private final String nodeId;
  private final List<Kind> kinds;

  public VerticlesApi(Admin kafka, String nodeId, List<Kind> kinds) {
    this.kafka = kafka;
    this.nodeId = nodeId;
    this.kinds = List.copyOf(kinds);
  }

  public void mount(Router router) {
    router.get("/admin/verticles").handler(this::list);
    router.put("/admin/verticles/:kind").handler(this::scale);
  }

  /**
   * {@code PUT /admin/verticles/<kind>} with {@code {"instances": N}}: deploys or undeploys instances until N run, and
   * answers once they do. The new count lasts until the node restarts; the config keeps it for good.
   */
  private void scale(RoutingContext ctx) {
    String name = ctx.pathParam("kind");
    Kind kind = kinds.stream().filter(k -> k.name().equals(name)).findFirst().orElse(null);
    if (kind == null) {
      AdminApi.respond(ctx, 404, new JsonObject().put("error", "no verticle kind \"" + name + "\"; kinds: "
          + kinds.stream().map(Kind::name).toList()));
      return;
    }
    if (kind.scaling() == null) {
      AdminApi.respond(ctx, 400, new JsonObject().put("error", name + " runs one instance per node: each destination's"
          + " queue, lanes and circuit breaker live in it, and each node joins every destination's group. Add nodes"
          + " to spread it"));
      return;
    }
    ctx.request().body().onSuccess(body -> {
      Object requested;
      try {
        requested = new JsonObject(body).getValue("instances");
      } catch (RuntimeException notJson) {
        requested = null;
      }
      if (!(requested instanceof Integer instances) || instances < 1 || instances > MAX_INSTANCES) {
        AdminApi.respond(ctx, 400, new JsonObject().put("error", "body must be {\"instances\": N} with N an integer"
            + " from 1 to " + MAX_INSTANCES + " (got " + (requested == null ? "none" : requested) + ")"));
        return;
      }
      kind.scaling().get().scaleTo(instances)
          .onSuccess(count -> AdminApi.respond(ctx, 200, new JsonObject().put("kind", name).put("instances", count)))
          .onFailure(error -> AdminApi.respond(ctx, 500, new JsonObject().put("kind", name)
              .put("instances", kind.instances().getAsInt())
              .put("error", "could not reach " + instances + " instances: " + error.getMessage())));
    }).onFailure(error -> AdminApi.respond(ctx, 400, new JsonObject().put("error", error.getMessage())));
  }

  private void list(RoutingContext ctx) {
    List<String> groups = kinds.stream().flatMap(kind -> kind.groups().stream()).toList();
    Map<String, KafkaFuture<ConsumerGroupDescription>> described = kafka.describeConsumerGroups(groups)
        .describedGroups();
    Map<String, ConsumerGroupDescription> found = new ConcurrentHashMap<>();
    Future.all(groups.stream().map(group -> Future.fromCompletionStage(described.get(group).toCompletionStage(),
                ctx.vertx().getOrCreateContext())
            .map(description -> found.put(group, description))
            // A group that never had a member (nothing read yet) is not an error: it is shown without members.
            .recover(error -> error instanceof GroupIdNotFoundException
                || error.getCause() instanceof GroupIdNotFoundException ? Future.succeededFuture()
                : Future.failedFuture(error)))
            .toList())
        .map(all -> describe(found))
        .onSuccess(body -> AdminApi.respond(ctx, 200, body))
        .onFailure(error -> AdminApi.respond(ctx, 503, new JsonObject()
            .put("error", "Kafka did not describe the consumer groups: " + error.getMessage())));
  }

  private JsonObject describe(Map<String, ConsumerGroupDescription> groups) {
    JsonArray verticles = new JsonArray();
    for (Kind kind : kinds) {
      JsonObject verticle = new JsonObject().put("kind", kind.name()).put("instances", kind.instances().getAsInt())
          .put("scalable", kind.scaling() != null);
      if (!kind.groups().isEmpty()) {
        JsonArray described = new JsonArray();
        kind.groups().forEach(group -> described.add(describe(group, groups.get(group))));
        verticle.put("groups", described);
      }
      verticles.add(verticle);
    }
    return new JsonObject().put("node", nodeId).put("verticles", verticles);
  }

  private static JsonObject describe(String group, ConsumerGroupDescription description) {
    JsonArray members = new JsonArray();
    if (description == null) {
      return new JsonObject().put("group", group).put("state", "NONE").put("members", members);
    }
    List<MemberDescription> sorted = new ArrayList<>(description.members());
    sorted.sort(Comparator.comparing(member -> member.groupInstanceId().orElse(member.consumerId())));
    for (MemberDescription member : sorted) {
      JsonArray partitions = new JsonArray();
      member.assignment().topicPartitions().stream()
          .sorted(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition))
          .forEach(partition -> partitions.add(partition.topic() + "-" + partition.partition()));
      members.add(new JsonObject().put("member", member.groupInstanceId().orElse(member.consumerId()))
          .put("host", member.host()).put("partitions", partitions));
    }
    return new JsonObject().put("group", group).put("state", description.groupState().toString())
        .put("members", members);
  }
}
