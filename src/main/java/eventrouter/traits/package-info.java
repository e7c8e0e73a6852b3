/**
 * Computed traits: values such as lifetime value, computed in Postgres from the warehouse and copied into each user's
 * real-time traits in Redis, where rules read them as {@code traits.<name>}.
 */
package eventrouter.traits;
