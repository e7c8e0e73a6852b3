/**
 * The durable event log: the Kafka topic every accepted event is written to before the client is answered,
 * and from which the warehouse (and later the real-time path) consume in their own consumer groups.
 */
package eventrouter.log;
