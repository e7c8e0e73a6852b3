package eventrouter.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The vendors' current browser SDKs, from their npm packages, in headless Chromium (Debian's chromium and
 * chromium-driver): a page on another origin loads the SDK, which takes its settings from the router and sends every
 * call type it has over each transport it offers. Every row must reach the warehouse with the ids as sent, the SDK's
 * library name and skew-corrected timestamps, and the browser must fetch nothing from anywhere but the page's origin
 * and the router (no vendor CDN).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BrowserSdkTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Set<String> SEGMENT_TYPES = Set.of("identify", "page", "track", "group", "alias", "screen");
  private static final Set<String> RUDDERSTACK_TYPES = Set.of("identify", "page", "track", "group", "alias");
  private static final String SEGMENT_LIBRARY = "analytics.js";
  private static final String RUDDERSTACK_LIBRARY = "RudderLabs JavaScript SDK";

  private final Vertx vertx = Vertx.vertx();
  @TempDir
  static Path dir;
  private TestRouter router;
  private ClientPages pages;
  private ChromeDriver browser;

  @BeforeAll
  void start() {
    Clients.requireSdks();
    assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "this test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver");
    router = TestRouter.start(vertx, dir.resolve("data"));
    pages = ClientPages.start(vertx);
    ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
        .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + dir.resolve("chromium"));
    // Every request the page makes, with its answer, from the DevTools network events.
    options.setCapability("goog:loggingPrefs", Map.of(LogType.PERFORMANCE, "ALL"));
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort().withLogFile(new File(dir.resolve("chromedriver.log").toString())).build();
    browser = new ChromeDriver(service, options);
  }

  @AfterAll
  void stop() {
    if (browser != null) {
      browser.quit();
    }
    if (pages != null) {
      pages.close();
    }
    if (router != null) {
      router.close();
    }
    vertx.close();
  }

  /** sdk page, transport, the types it sends, its library name, the page clock's skew. */
  static Stream<Arguments> transports() {
    Duration behind = Duration.ofMinutes(-90);
    Duration ahead = Duration.ofMinutes(45);
    return Stream.of(
        Arguments.of("segment", "fetch", SEGMENT_TYPES, SEGMENT_LIBRARY, behind),
        Arguments.of("segment", "keepalive", SEGMENT_TYPES, SEGMENT_LIBRARY, ahead),
        Arguments.of("segment", "batching", SEGMENT_TYPES, SEGMENT_LIBRARY, Duration.ZERO),
        Arguments.of("rudderstack", "xhr", RUDDERSTACK_TYPES, RUDDERSTACK_LIBRARY, ahead),
        Arguments.of("rudderstack", "batch", RUDDERSTACK_TYPES, RUDDERSTACK_LIBRARY, Duration.ZERO),
        Arguments.of("rudderstack", "beacon", RUDDERSTACK_TYPES, RUDDERSTACK_LIBRARY, behind));
  }

  @ParameterizedTest(name = "{0} over {1}, client clock off by {4}")
  @MethodSource("transports")
  @DisplayName("a browser SDK on another origin loads its settings from the router, and every call it sends lands in"
      + " the warehouse with its ids, its library and skew-corrected timestamps")
  void sdkReachesTheWarehouse(String sdk, String transport, Set<String> types, String library, Duration skew) {
    String run = sdk + "-" + transport + "-" + UUID.randomUUID();
    String userId = "user-" + run;
    String anonymousId = "anon-" + run;
    Map<String, String> query = new LinkedHashMap<>();
    query.put("router", router.baseUrl());
    query.put("writeKey", TestRouter.WRITE_KEY);
    query.put("userId", userId);
    query.put("anonymousId", anonymousId);
    query.put("transport", transport);
    query.put("skewMs", Long.toString(skew.toMillis()));
    List<String> requests = new ArrayList<>();
    browser.manage().logs().get(LogType.PERFORMANCE); // drops the previous page's entries

    browser.get(pages.baseUrl() + "/browser/" + sdk + ".html?" + encode(query));
    String state;
    try {
      state = new WebDriverWait(browser, Duration.ofSeconds(30)).until(driver -> {
        Object value = browser.executeScript("return window.harness && window.harness.state");
        return "done".equals(value) || "failed".equals(value) ? (String) value : null;
      });
    } catch (TimeoutException e) {
      fail("the " + sdk + " page did not finish its calls within 30 s\n" + page(requests), e);
      return;
    }
    assertEquals("done", state, "the " + sdk + " page failed\n" + page(requests));

    ClientRows.assertStored(vertx, router,
        new ClientRows.Expected(userId, anonymousId, types, library, true, skew), () -> page(requests));
    collectRequests(requests);
    // Kept in the class's surefire output: what this SDK and transport sent, request by request.
    System.out.println(sdk + " over " + transport + ":\n  " + String.join("\n  ", requests));
    assertOnlyLocalRequests(requests);
    assertRouterAnsweredAll(requests, sdk.equals("segment")
        ? "GET " + router.baseUrl() + "/v1/projects/" + TestRouter.WRITE_KEY + "/settings"
        : "GET " + router.baseUrl() + "/sourceConfig/?");
  }

  /** The settings came from the router, and the router refused nothing the SDK sent (no 4xx, no CORS failure). */
  private void assertRouterAnsweredAll(List<String> requests, String settingsRequest) {
    String all = "all requests:\n  " + String.join("\n  ", requests);
    assertTrue(requests.stream().anyMatch(request -> request.startsWith(settingsRequest) && request.endsWith("-> 200")),
        "the SDK loaded its settings from the router (" + settingsRequest + "...) with a 200; " + all);
    for (String request : requests) {
      int arrow = request.lastIndexOf(" -> ");
      String outcome = request.substring(arrow + 4);
      if (request.substring(request.indexOf(' ') + 1).startsWith(router.baseUrl() + "/")) {
        assertTrue(outcome.matches("[123]\\d\\d") || outcome.equals("no answer yet"),
            "the router answered " + request.substring(0, arrow) + " with " + outcome + "; " + all);
      }
    }
  }

  /** No request may leave for a vendor's CDN or API: only the page's origin and the router are allowed. */
  private void assertOnlyLocalRequests(List<String> requests) {
    for (String request : requests) {
      String url = request.substring(request.indexOf(' ') + 1);
      assertTrue(url.startsWith(pages.baseUrl() + "/") || url.startsWith(router.baseUrl() + "/"),
          "the page requested " + url + ", which is neither the page's origin nor the router; all requests:\n  "
              + String.join("\n  ", requests));
    }
  }

  /** What the page saw: its state, errors and console warnings, and every request with its answer. */
  private String page(List<String> requests) {
    Object harness;
    try {
      harness = browser.executeScript("return JSON.stringify(window.harness || null)");
    } catch (RuntimeException e) {
      harness = "unreadable: " + e;
    }
    collectRequests(requests);
    return "page state: " + harness + "\nrequests (method url -> status):\n  " + String.join("\n  ", requests);
  }

  /** Appends "METHOD url -> status" for each request in the DevTools log since the last call. */
  private void collectRequests(List<String> requests) {
    Map<String, String> byId = new LinkedHashMap<>();
    Map<String, String> outcome = new LinkedHashMap<>();
    for (LogEntry entry : browser.manage().logs().get(LogType.PERFORMANCE)) {
      JsonObject message = new JsonObject(entry.getMessage()).getJsonObject("message");
      JsonObject params = message.getJsonObject("params", new JsonObject());
      String id = params.getString("requestId");
      switch (message.getString("method")) {
        case "Network.requestWillBeSent" -> {
          JsonObject request = params.getJsonObject("request");
          // Chromium's own chrome:// pages are not the page's requests.
          if (request.getString("url").matches("(?i)(https?|wss?)://.*")) {
            byId.put(id + "#" + byId.size(), request.getString("method") + " " + request.getString("url"));
          }
        }
        case "Network.responseReceived" ->
            outcome.put(id, Integer.toString(params.getJsonObject("response").getInteger("status")));
        case "Network.loadingFailed" -> outcome.put(id, "failed: " + params.getString("errorText")
            + (params.getString("blockedReason") == null ? "" : " " + params.getString("blockedReason"))
            + (params.getValue("corsErrorStatus") == null ? "" : " " + params.getValue("corsErrorStatus")));
        default -> {
        }
      }
    }
    byId.forEach((key, request) -> {
      String id = key.substring(0, key.lastIndexOf('#'));
      requests.add(request + " -> " + outcome.getOrDefault(id, "no answer yet"));
    });
  }

  private static String encode(Map<String, String> query) {
    List<String> pairs = new ArrayList<>();
    query.forEach((key, value) -> pairs.add(key + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8)));
    return String.join("&", pairs);
  }
}
