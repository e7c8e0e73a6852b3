/**
 * Typed warehouse tables: a table per track event with a column per property, and typed trait and property columns
 * on {@code identifies}, {@code users}, {@code pages} and {@code screens}. Owns the mapping from user data to SQL
 * identifiers ({@link eventrouter.warehouse.typed.Identifiers}), type inference and widening
 * ({@link eventrouter.warehouse.typed.ValueType}), and the online schema changes. Plain Java apart from
 * {@link eventrouter.warehouse.typed.TypedTables}, which runs inside the warehouse writer's transaction.
 */
package eventrouter.warehouse.typed;
