/**
 * The benchmark's own processes, each a small {@code main} started by {@code loadtest/bench.sh}: the bare Vert.x
 * baseline server, the webhook sink that times deliveries, the open-model load generator, the probes that read
 * every consumer group's lag and the warehouse lag, the WebSocket push probe, the JFR summariser, the CPU cost per
 * event ({@code Cost}, reading {@code /proc} and Redis's command stats around a fixed-rate window of the
 * {@code ShopMix}), and the report that writes {@code BENCHMARKS.md}, {@code target/bench/COST.md} and
 * {@code target/bench/results.json}. None of them is part of the router.
 */
package eventrouter.loadtest.bench;
