package eventrouter.loadtest;

import static io.gatling.javaapi.core.CoreDsl.ByteArrayBody;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.HttpRequestActionBuilder;

/**
 * Batches as server-side SDKs send them: {@code POST /v1/batch} with the write key as the Basic auth username (as
 * RudderStack's SDKs do), a batch-level {@code sentAt} and {@code context}, and a mix of track, page and identify
 * calls. Batch requests arrive at a constant rate (an open workload), over a shared connection pool as an SDK's
 * HTTP client would use.
 *
 * <pre>
 * mvn gatling:test -Dgatling.simulationClass=eventrouter.loadtest.BatchIngestSimulation \
 *     -DbaseUrl=http://127.0.0.1:8080 -DwriteKey=KEY -Drate=20 -Dduration=30 -DbatchSize=100 -Dgzip=true
 * </pre>
 *
 * {@code -Dgzip=true} sends {@code Content-Encoding: gzip}, as RudderStack's Node SDK does by default.
 */
public class BatchIngestSimulation extends Simulation {
  private final LoadSettings settings = new LoadSettings();
  private final int batchSize = (int) LoadSettings.positive("batchSize", 100);
  private final boolean gzip = LoadSettings.bool("gzip", false);

  private final HttpProtocolBuilder protocol = http
      .baseUrl(settings.baseUrl)
      .contentTypeHeader("application/json")
      .acceptHeader("application/json")
      .header("Authorization", settings.basicAuth())
      .userAgentHeader("RudderStack Node SDK (Gatling load test)")
      .shareConnections();

  private HttpRequestActionBuilder batchRequest() {
    HttpRequestActionBuilder request = http("batch of " + batchSize + (gzip ? " (gzip)" : ""))
        .post("/v1/batch")
        .body(ByteArrayBody(session -> {
          byte[] json = Events.bytes(Events.batch(batchSize));
          return gzip ? Events.gzip(json) : json;
        }))
        .check(status().is(200), jsonPath("$.success").ofBoolean().is(true));
    return gzip ? request.header("Content-Encoding", "gzip") : request;
  }

  private final ScenarioBuilder senders = scenario("Batch ingest").exec(batchRequest());

  {
    setUp(senders.injectOpen(constantUsersPerSec(settings.rate).during(settings.duration)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().count().is(0L),
            global().responseTime().percentile(settings.percentile).lt(settings.percentileMaxMs));
  }
}
