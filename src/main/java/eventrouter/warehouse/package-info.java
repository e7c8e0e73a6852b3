/**
 * The warehouse: a consumer group of its own that writes every logged event to Postgres in batched transactions,
 * committing Kafka offsets only after Postgres commits. Owns the schema and its migrations.
 */
package eventrouter.warehouse;
