package eventrouter.loadtest.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the router's own meters ({@code GET /admin/metrics}, Prometheus's text format) recorded between two scrapes
 * taken around a run: the real-time path's stage histograms and the JVM's GC pauses. A percentile read off a
 * histogram is the upper bound of the bucket it falls in, so it is never lower than the truth.
 */
final class Scrape {
  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][\\w:]*)(?:\\{([^}]*)})? (\\S+)$");
  private static final Pattern LABEL = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  /** Sample lines as name → labels → value; labels keep Prometheus's order. */
  private final List<Sample> samples;

  private record Sample(String name, Map<String, String> labels, double value) {
  }

  private Scrape(List<Sample> samples) {
    this.samples = samples;
  }

  static Scrape read(Path file) throws IOException {
    List<Sample> samples = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      Matcher sample = SAMPLE.matcher(line);
      if (line.startsWith("#") || !sample.matches()) {
        continue;
      }
      Map<String, String> labels = new TreeMap<>();
      if (sample.group(2) != null) {
        Matcher label = LABEL.matcher(sample.group(2));
        while (label.find()) {
          labels.put(label.group(1), label.group(2));
        }
      }
      samples.add(new Sample(sample.group(1), labels, Double.parseDouble(sample.group(3))));
    }
    return new Scrape(samples);
  }

  /** The sum of every sample of {@code name} (over all label sets) in {@code after} minus that in {@code before}. */
  static double delta(Scrape before, Scrape after, String name) {
    return after.sum(name) - before.sum(name);
  }

  private double sum(String name) {
    return samples.stream().filter(s -> s.name.equals(name)).mapToDouble(Sample::value).sum();
  }

  /**
   * The histogram {@code name} with {@code label=value}, as recorded between the two scrapes: its count and its
   * p50/p99 in milliseconds (bucket upper bounds; {@code +Inf} is reported as the largest finite bound).
   */
  static Histogram histogram(Scrape before, Scrape after, String name, String label, String value) {
    TreeMap<Double, Double> buckets = new TreeMap<>();
    for (Sample sample : after.samples) {
      if (sample.name.equals(name + "_bucket") && value.equals(sample.labels.get(label))) {
        buckets.merge(bound(sample.labels.get("le")), sample.value, Double::sum);
      }
    }
    for (Sample sample : before.samples) {
      if (sample.name.equals(name + "_bucket") && value.equals(sample.labels.get(label))) {
        buckets.merge(bound(sample.labels.get("le")), -sample.value, Double::sum);
      }
    }
    double count = buckets.isEmpty() ? 0 : buckets.lastEntry().getValue();
    return new Histogram((long) count, quantileMs(buckets, count, 0.5), quantileMs(buckets, count, 0.99));
  }

  record Histogram(long count, double p50Ms, double p99Ms) {
  }

  private static double bound(String le) {
    return le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
  }

  private static double quantileMs(TreeMap<Double, Double> cumulative, double count, double quantile) {
    if (count <= 0) {
      return Double.NaN;
    }
    double lastFinite = Double.NaN;
    for (Map.Entry<Double, Double> bucket : cumulative.entrySet()) {
      if (!bucket.getKey().isInfinite()) {
        lastFinite = bucket.getKey();
      }
      if (bucket.getValue() >= quantile * count) {
        return (bucket.getKey().isInfinite() ? lastFinite : bucket.getKey()) * 1000;
      }
    }
    return lastFinite * 1000;
  }
}
