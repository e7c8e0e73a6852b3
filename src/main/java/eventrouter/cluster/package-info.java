/**
 * Several routers as one: the clustered event bus (Hazelcast, members from {@code cluster.members}), so that what
 * one node publishes, such as a push for a user's sockets, reaches every node. Consumer groups need nothing from here:
 * Kafka spreads each group's partitions over the nodes' static members ({@link eventrouter.log.GroupMember}).
 */
package eventrouter.cluster;
