package eventrouter.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import eventrouter.config.RouterConfig.ClusterConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The router's Vert.x: a plain one on a single node, or one whose event bus spans every node listed in
 * {@code cluster.members}, through Hazelcast. Members are found from that list over TCP only (never multicast), so a
 * cluster forms on loopback, in compose and across hosts alike. A push published on one node then reaches the user's
 * sockets on every node.
 */
public final class Cluster {
  /** How long a node that stopped answering (hung, or cut off) stays a member; a killed one is noticed at once. */
  static final int MEMBER_TIMEOUT_SECONDS = 10;

  private Cluster() {
  }

  public static Future<Vertx> vertx(ClusterConfig config) {
    if (!config.enabled()) {
      return Future.succeededFuture(Vertx.vertx());
    }
    String address;
    try {
      // Hazelcast binds an interface by its address, and a name such as a compose service's must be resolved first.
      address = InetAddress.getByName(config.host()).getHostAddress();
    } catch (UnknownHostException e) {
      return Future.failedFuture(new IllegalStateException("cluster.host \"" + config.host() + "\" does not resolve",
          e));
    }
    VertxOptions options = new VertxOptions().setEventBusOptions(new EventBusOptions()
        .setHost(address).setPort(config.eventBusPort()).setClusterPublicHost(address));
    return Vertx.builder().with(options).withClusterManager(new HazelcastClusterManager(hazelcast(config, address)))
        .buildClustered();
  }

  /** Vert.x's own Hazelcast settings (its maps for subscriptions and nodes), joined by a fixed member list. */
  static Config hazelcast(ClusterConfig config, String address) {
    Config hazelcast = ConfigUtil.loadConfig();
    hazelcast.setClusterName("event-router");
    hazelcast.setProperty("hazelcast.logging.type", "slf4j");
    hazelcast.setProperty("hazelcast.phone.home.enabled", "false");
    // Without it a node waits 5 s for others before it forms a cluster of its own.
    hazelcast.setProperty("hazelcast.wait.seconds.before.join", "0");
    hazelcast.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(MEMBER_TIMEOUT_SECONDS));
    NetworkConfig network = hazelcast.getNetworkConfig();
    network.setPort(config.port()).setPortAutoIncrement(false).setPublicAddress(address + ":" + config.port());
    network.getInterfaces().setEnabled(true).addInterface(address);
    JoinConfig join = network.getJoin();
    // The default-cluster.xml in Vert.x's jar turns multicast on: turn it and every cloud discovery off explicitly.
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(config.members());
    return hazelcast;
  }
}
