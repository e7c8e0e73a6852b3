/**
 * Delivery: consumes events and signals in its own consumer group and fans each one out, in parallel, to every
 * destination whose filter matches (webhook, Kafka, WebSocket push). Each destination has its own queue, concurrency
 * cap, rate limit and circuit breaker; failures are retried from a Postgres retry store and end in dead letters, which
 * the admin API lists, replays and discards.
 */
package eventrouter.delivery;
