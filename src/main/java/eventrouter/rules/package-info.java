/**
 * The rule model and its evaluation, in plain Java so that it is unit-tested without Vert.x or Redis: rules are
 * read from JSON, their CEL expressions compiled once, and {@link eventrouter.rules.RuleEngine#evaluate} turns one
 * event with its session and traits into decisions (signals, threshold checks, timers to arm or cancel, actions).
 * Time is never read here: callers pass it in.
 */
package eventrouter.rules;
