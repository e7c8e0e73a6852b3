/**
 * The real-time path: a consumer group of its own over the event log that keeps each user's identity, session, cart
 * and traits in Redis, evaluates the rules ({@link eventrouter.rules}) within milliseconds of ingest, fires durable
 * absence timers, and writes the signals it raises to the signals topic.
 */
package eventrouter.realtime;
