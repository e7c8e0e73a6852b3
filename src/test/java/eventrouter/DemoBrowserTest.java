package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.testing.TestRouter;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The demo shop in a real headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs): a click
 * streams an event over the WebSocket into the warehouse, and the offer the router pushes back is shown on the page.
 */
class DemoBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;
  private TestRouter router;
  private ChromeDriver browser;

  @AfterEach
  void close() {
    if (browser != null) {
      browser.quit();
    }
    if (router != null) {
      router.close();
    }
    vertx.close();
  }

  @Test
  @DisplayName("add to cart in the browser: the event reaches Postgres, and the pushed offer appears on the page")
  void shopperGetsAnOffer() {
    assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "this test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver");
    router = TestRouter.start(vertx, dir.resolve("data"), Map.of(), new JsonObject());
    ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
        .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + dir.resolve("chromium"));
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort().withLogFile(new File(dir.resolve("chromedriver.log").toString())).build();
    browser = new ChromeDriver(service, options);

    browser.get(router.baseUrl() + "/demo/?writeKey=" + TestRouter.WRITE_KEY);
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
    wait.until(ExpectedConditions.textToBe(By.id("status"), "connected"));
    String anonymousId = browser.findElement(By.id("anonymous-id")).getText();
    assertTrue(anonymousId.startsWith("demo-"), anonymousId);

    browser.findElement(By.id("add-to-cart")).click();

    assertEquals(1, router.awaitCount(1, "SELECT count(*) FROM events WHERE anonymous_id = $1 AND event = $2",
        anonymousId, "Product Added"));
    WebElement offer = new WebDriverWait(browser, Duration.ofSeconds(40))
        .until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#offer.shown")));
    assertTrue(offer.getText().contains("COMEBACK10"), offer.getText());
    assertTrue(offer.getText().contains("89"), "the offer names the cart's value: " + offer.getText());
  }
}
