package eventrouter.cluster;

import io.vertx.core.Deployable;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * The instances of one kind of verticle on this node, each its own deployment so that one can be added or removed
 * while the others run. An instance's number is its static consumer-group member's ({@code <nodeId>-<kind>-<n>}):
 * new instances take the lowest free numbers, and the highest go first, so that scaling back up brings the same
 * members back. Changes run one at a time.
 */
public final class Instances {
  private final Vertx vertx;
  private final String kind;
  private final IntFunction<Deployable> factory;
  private final Set<String> liveDeployments;
  private final TreeMap<Integer, String> deploymentByNumber = new TreeMap<>();
  private Future<Integer> last = Future.succeededFuture(0);

  /**
   * @param factory the verticle for an instance number
   * @param liveDeployments every deployment the node expects alive (the health check's), kept up to date here
   */
  public Instances(Vertx vertx, String kind, IntFunction<Deployable> factory, Set<String> liveDeployments) {
    this.vertx = vertx;
    this.kind = kind;
    this.factory = factory;
    this.liveDeployments = liveDeployments;
  }

  /** How many instances run now. */
  public synchronized int count() {
    return deploymentByNumber.size();
  }

  /**
   * Deploys or undeploys instances until {@code target} run, after any change already under way.
   *
   * @return the count reached; a failed deployment fails it, leaving the instances that did start
   */
  public synchronized Future<Integer> scaleTo(int target) {
    last = last.transform(ar -> step(target));
    return last;
  }

  private Future<Integer> step(int target) {
    int count = count();
    if (count == target) {
      return Future.succeededFuture(count);
    }
    Future<Void> change = count < target ? deployOne() : undeployOne();
    return change.compose(v -> step(target));
  }

  private Future<Void> deployOne() {
    int number;
    synchronized (this) {
      number = 0;
      while (deploymentByNumber.containsKey(number)) {
        number++;
      }
    }
    int chosen = number;
    return vertx.deployVerticle(factory.apply(chosen))
        .recover(error -> Future.failedFuture(new IllegalStateException("could not deploy " + kind + " instance "
            + chosen + ": " + error.getMessage(), error)))
        .map(id -> {
          synchronized (this) {
            deploymentByNumber.put(chosen, id);
          }
          liveDeployments.add(id);
          return null;
        });
  }

  private Future<Void> undeployOne() {
    String id;
    synchronized (this) {
      id = deploymentByNumber.pollLastEntry().getValue();
    }
    // Out of the health check's set first: a deployment on its way out is not a dead one.
    liveDeployments.remove(id);
    return vertx.undeploy(id);
  }
}
