package eventrouter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import eventrouter.config.ConfigKey;
import eventrouter.config.ConfigKeys;
import eventrouter.config.RouterConfig;
import eventrouter.config.Settings;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * docker/Dockerfile and docker/compose.yaml are not built or run by this build (there is no Docker daemon in CI), so
 * this test keeps them from rotting: their ROUTER_* variables are real config keys, the configuration the container
 * would get is valid and external, the jar the Dockerfile copies is the one the pom's shade plugin writes, and every
 * path they name exists.
 *
 * <p>YAML is read with SnakeYAML, which is on the classpath through CEL. (jackson-dataformat-yaml is only there at
 * runtime, through Kafka; declaring it with test scope would take it out of the shaded jar.)
 */
class DockerStackTest {
  private static final Path DOCKER_DIR = Path.of("docker");
  private static final Path DOCKERFILE = DOCKER_DIR.resolve("Dockerfile");
  private static final Path COMPOSE = DOCKER_DIR.resolve("compose.yaml");
  private static final Path GATEWAY_CONF = DOCKER_DIR.resolve("gateway.conf");
  /** The router nodes are the services named router-1, router-2, …; the gateway is the one published port. */
  private static final Pattern ROUTER_SERVICE = Pattern.compile("router-\\d+");
  private static final String GATEWAY_SERVICE = "gateway";
  private static final Pattern ROUTER_VARIABLE = Pattern.compile("\\bROUTER_[A-Z0-9_]+");
  /** Compose interpolation: {@code ${NAME}}, {@code ${NAME:-default}}, {@code ${NAME-default}}. */
  private static final Pattern INTERPOLATION = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?}");

  @Test
  @DisplayName("every ROUTER_* variable named in the Dockerfile and compose.yaml is a config key's environment name")
  void routerVariablesAreConfigKeys() throws IOException {
    Set<String> known = ConfigKeys.ALL.stream().map(ConfigKey::env).collect(Collectors.toSet());
    for (Path file : List.of(COMPOSE, DOCKERFILE)) {
      Set<String> named = new TreeSet<>();
      Matcher m = ROUTER_VARIABLE.matcher(Files.readString(file));
      while (m.find()) {
        named.add(m.group());
      }
      assertFalse(named.isEmpty(), file + " names no ROUTER_* variable");
      named.removeAll(known);
      assertTrue(named.isEmpty(), file + " names ROUTER_* variables that are no config key's: " + named);
    }
    // And each router service's environment, as compose reads it (anchors and merge keys resolved).
    for (String service : routerServices().keySet()) {
      for (String name : routerEnvironment(service).keySet()) {
        assertTrue(known.contains(name) || !name.startsWith("ROUTER_"), service + ": unknown config variable " + name);
      }
    }
  }

  @Test
  @DisplayName("each of the stack's three router nodes gets a valid configuration that uses the stack's Kafka, Redis"
      + " and Postgres, clusters with the other two, and keeps its own data volume")
  void composeConfigurationIsValid() throws IOException {
    Map<String, Object> services = map(compose().get("services"), "services");
    Map<String, Map<String, Object>> routers = routerServices();
    assertEquals(3, routers.size(), COMPOSE + " should run three router nodes: " + routers.keySet());
    Set<String> dataVolumes = new TreeSet<>();
    for (Map.Entry<String, Map<String, Object>> node : routers.entrySet()) {
      String name = node.getKey();
      Map<String, Object> router = node.getValue();
      RouterConfig config = RouterConfig.from(Settings.load(Main.DEFAULT_CONFIG, containerEnvironment(name)));

      assertNotNull(config.kafka().bootstrap(), name + " would start an embedded Kafka");
      assertNotNull(config.redis().url(), name + " would start an embedded Redis");
      assertNotNull(config.postgres().url(), name + " would start an embedded Postgres");
      assertEquals(1, config.kafka().replicationFactor(), "the stack has one Kafka broker");

      Map<String, Object> dependsOn = map(router.get("depends_on"), name + "'s depends_on");
      List<String> hosts = new ArrayList<>();
      for (String server : config.kafka().bootstrap().split(",")) {
        hosts.add(server.substring(0, server.lastIndexOf(':')));
      }
      hosts.add(urlHost(config.redis().url()));
      hosts.add(urlHost(config.postgres().url()));
      for (String host : hosts) {
        assertTrue(services.containsKey(host), name + " points at " + host + ", which is no service of " + COMPOSE);
        assertTrue(map(services.get(host), "services." + host).containsKey("healthcheck"),
            "service " + host + " has no healthcheck");
        assertEquals("service_healthy", map(dependsOn.get(host), name + "'s depends_on." + host).get("condition"),
            name + " must wait until " + host + " is healthy");
      }

      // Clustered: every node in the member list (its own included), bound to its own service name.
      assertTrue(config.cluster().enabled(), name + " is not clustered");
      assertEquals(name, config.cluster().host(), name + "'s cluster.host must be its service name");
      assertEquals(name, router.get("hostname"), name + "'s hostname");
      Set<String> expectedMembers = new TreeSet<>();
      routers.keySet().forEach(other -> expectedMembers.add(other + ":" + config.cluster().port()));
      assertEquals(expectedMembers, new TreeSet<>(config.cluster().members()), name + "'s cluster.members");
      assertEquals("x-forward", config.http().forwardedHeaders(), name + " must trust the gateway's X-Forwarded-For");

      // Its own data dir volume: the node id, and so its consumer-group member ids, lives there.
      String dataDir = config.dataDir().toString();
      Volume data = volumes(router).stream().filter(v -> v.target().equals(dataDir)).findFirst().orElse(null);
      assertNotNull(data, name + " mounts nothing at the data dir " + dataDir);
      assertTrue(dataVolumes.add(data.source()), name + " shares its data volume " + data.source()
          + " with another node: two nodes would have one node id");
      assertTrue(dockerfileInstructions("VOLUME").stream().anyMatch(v -> v.contains("\"" + dataDir + "\"")),
          DOCKERFILE + " declares no VOLUME for the data dir " + dataDir);
      assertEquals(null, router.get("ports"), name + " publishes a port: clients go through the gateway");
      assertTrue(dockerfileInstructions("EXPOSE").contains(String.valueOf(config.http().port())),
          DOCKERFILE + " does not EXPOSE " + config.http().port());
    }
    // Each node's write keys and admin token come from the same shell variables.
    for (String secret : List.of("ROUTER_WRITE_KEYS", "ROUTER_ADMIN_TOKEN")) {
      for (String name : routers.keySet()) {
        assertTrue(routerEnvironment(name).containsKey(secret), name + " does not pass " + secret + " through");
      }
    }
  }

  @Test
  @DisplayName("the gateway publishes the one HTTP port and balances over every router node, WebSockets included,"
      + " forwarding the client's address")
  void gatewayBalancesOverEveryNode() throws IOException {
    Map<String, Object> gateway = map(map(compose().get("services"), "services").get(GATEWAY_SERVICE),
        "services." + GATEWAY_SERVICE);
    Map<String, Map<String, Object>> routers = routerServices();
    int httpPort = RouterConfig.from(Settings.load(Main.DEFAULT_CONFIG,
        containerEnvironment(routers.keySet().iterator().next()))).http().port();
    assertEquals(List.of(httpPort + ":" + httpPort), list(gateway.get("ports"), "gateway's ports").stream()
        .map(String::valueOf).toList(), "the gateway should publish the router's HTTP port");
    assertTrue(volumes(gateway).stream().anyMatch(v -> DOCKER_DIR.resolve(v.source()).normalize()
        .equals(GATEWAY_CONF.normalize())), "the gateway does not mount " + GATEWAY_CONF);
    Map<String, Object> dependsOn = map(gateway.get("depends_on"), "gateway's depends_on");

    String conf = Files.readString(GATEWAY_CONF);
    Matcher upstream = Pattern.compile("upstream\\s+(\\w+)\\s*\\{([^}]*)}").matcher(conf);
    assertTrue(upstream.find(), GATEWAY_CONF + " has no upstream");
    Set<String> servers = new TreeSet<>();
    Matcher server = Pattern.compile("server\\s+([^\\s;]+)").matcher(upstream.group(2));
    while (server.find()) {
      servers.add(server.group(1));
    }
    Set<String> nodes = new TreeSet<>();
    for (String name : routers.keySet()) {
      nodes.add(name + ":" + httpPort);
      assertEquals("service_healthy", map(dependsOn.get(name), "gateway's depends_on." + name).get("condition"),
          "the gateway must wait until " + name + " is healthy");
    }
    assertEquals(nodes, servers, GATEWAY_CONF + "'s upstream must list every router node");
    assertTrue(conf.contains("proxy_pass http://" + upstream.group(1) + ";"), "nothing is proxied to the upstream");
    assertTrue(conf.contains("proxy_set_header Upgrade $http_upgrade;")
        && conf.contains("proxy_set_header Connection $connection_upgrade;"), "WebSockets would not be upgraded");
    assertTrue(conf.contains("proxy_set_header X-Forwarded-For $remote_addr;"),
        "the client's address must replace, not extend, any X-Forwarded-For it sent");
  }

  @Test
  @DisplayName("the Dockerfile copies the jar that the pom's shade plugin writes, and conf/ where Main looks for it")
  void dockerfileCopiesTheShadedJarAndConf() throws Exception {
    String jar = shadedJar();
    List<Stage> stages = dockerfileStages();
    assertTrue(stages.size() >= 2, DOCKERFILE + " should be a multi-stage build");
    Stage build = stages.get(0);
    Stage runtime = stages.get(stages.size() - 1);
    assertTrue(build.instructions().stream().anyMatch(i -> i.startsWith("RUN ") && i.contains("mvn")
        && i.contains(" package")), "the build stage never runs mvn package");

    Path builtJar = Path.of(build.workdir()).resolve(jar);
    String copiedJar = null;
    for (Copy copy : runtime.copies()) {
      if (copy.from() != null && copy.sources().contains(builtJar.toString())) {
        assertEquals(build.name(), copy.from(), "the jar is copied from another stage than the build");
        copiedJar = copy.destination();
      }
    }
    assertNotNull(copiedJar, "the runtime stage does not copy " + builtJar + " (the shade plugin writes " + jar + ")");
    String entrypoint = runtime.last("ENTRYPOINT");
    assertNotNull(entrypoint, "the runtime stage has no ENTRYPOINT");
    assertTrue(entrypoint.contains("\"-jar\", \"" + copiedJar + "\""), "ENTRYPOINT does not run " + copiedJar);

    // Main reads conf/router.json relative to the working directory.
    Path configInImage = Path.of(runtime.workdir()).resolve(Main.DEFAULT_CONFIG);
    boolean confCopied = runtime.copies().stream().anyMatch(c -> c.from() == null
        && c.sources().stream().anyMatch(s -> Path.of(s).normalize().equals(Main.DEFAULT_CONFIG.getParent()))
        && configInImage.startsWith(Path.of(c.destination())));
    assertTrue(confCopied, "the runtime stage does not copy conf/ to " + configInImage.getParent());
    assertTrue(runtime.instructions().stream().anyMatch(i -> i.startsWith("USER ") && !i.equals("USER root")),
        "the runtime stage runs as root");
  }

  @Test
  @DisplayName("the build context, the Dockerfile and compose's mounts exist; .dockerignore keeps the copied files")
  void referencedPathsExist() throws IOException {
    List<Map<String, Object>> built = routerServices().values().stream().filter(r -> r.containsKey("build")).toList();
    assertEquals(1, built.size(), "one router node should build the image, the others use it");
    Map<String, Object> build = map(built.get(0).get("build"), "router's build");
    Path context = DOCKER_DIR.resolve(String.valueOf(build.get("context"))).normalize();
    assertTrue(Files.isDirectory(context), "build context " + context + " does not exist");
    assertTrue(Files.isRegularFile(context.resolve("pom.xml")), "build context " + context + " is not the project");
    Path dockerfile = context.resolve(String.valueOf(build.get("dockerfile"))).normalize();
    assertEquals(DOCKERFILE.toAbsolutePath().normalize(), dockerfile.toAbsolutePath().normalize(),
        "compose builds with another Dockerfile");

    List<String> ignored = Files.readAllLines(context.resolve(".dockerignore")).stream().map(String::trim)
        .filter(l -> !l.isEmpty() && !l.startsWith("#")).map(l -> l.replaceAll("/+$", "")).toList();
    for (Stage stage : dockerfileStages()) {
      for (Copy copy : stage.copies()) {
        if (copy.from() != null) {
          continue;
        }
        for (String source : copy.sources()) {
          Path path = context.resolve(source).normalize();
          assertTrue(Files.exists(path), DOCKERFILE + " copies " + source + ", which is not in the build context");
          for (String pattern : ignored) {
            assertFalse(Path.of(source).normalize().startsWith(pattern),
                ".dockerignore's " + pattern + " leaves " + source + " out of the build context");
          }
        }
      }
    }

    Map<String, Object> declaredVolumes = compose().get("volumes") == null ? Map.of()
        : map(compose().get("volumes"), "volumes");
    for (Object service : map(compose().get("services"), "services").values()) {
      for (Volume volume : volumes(map(service, "service"))) {
        String source = volume.source();
        if (source.startsWith(".") || source.startsWith("/")) {
          Path path = DOCKER_DIR.resolve(source).normalize();
          assertTrue(Files.exists(path), COMPOSE + " mounts " + source + " (" + path + "), which does not exist");
        } else {
          assertTrue(declaredVolumes.containsKey(source), "named volume " + source + " is not declared in " + COMPOSE);
        }
      }
    }
  }

  // --- compose.yaml ---

  private static Map<String, Object> compose() throws IOException {
    try (Reader reader = Files.newBufferedReader(COMPOSE)) {
      return map(new Yaml(new SafeConstructor(new LoaderOptions())).load(reader), COMPOSE.toString());
    }
  }

  /** The router nodes, by service name. */
  private static Map<String, Map<String, Object>> routerServices() throws IOException {
    Map<String, Map<String, Object>> routers = new java.util.TreeMap<>();
    map(compose().get("services"), "services").forEach((name, service) -> {
      if (ROUTER_SERVICE.matcher(name).matches()) {
        routers.put(name, map(service, "services." + name));
      }
    });
    assertFalse(routers.isEmpty(), COMPOSE + " has no router-N service");
    return routers;
  }

  /** A router service's environment, in either of compose's forms; a variable without a value maps to null. */
  private static Map<String, String> routerEnvironment(String service) throws IOException {
    Object environment = routerServices().get(service).get("environment");
    Map<String, String> env = new LinkedHashMap<>();
    if (environment instanceof Map<?, ?> entries) {
      entries.forEach((k, v) -> env.put(String.valueOf(k), v == null ? null : String.valueOf(v)));
    } else {
      for (Object entry : list(environment, service + "'s environment")) {
        String s = String.valueOf(entry);
        int eq = s.indexOf('=');
        env.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? null : s.substring(eq + 1));
      }
    }
    return env;
  }

  /**
   * The container's environment: the image's ENV, then compose's (interpolated with its defaults; a variable without
   * a value is passed through from the shell, so here it is unset).
   */
  private static Map<String, String> containerEnvironment(String service) throws IOException {
    Map<String, String> env = new LinkedHashMap<>(dockerfileEnv());
    routerEnvironment(service).forEach((name, value) -> {
      if (value != null) {
        env.put(name, interpolate(value));
      }
    });
    return env;
  }

  /** Compose's interpolation as it applies when none of the variables is set: each takes its default. */
  private static String interpolate(String value) {
    Matcher m = INTERPOLATION.matcher(value.replace("$$", "\u0000"));
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement(m.group(2) == null ? "" : m.group(2)));
    }
    m.appendTail(out);
    return out.toString().replace('\u0000', '$');
  }

  private record Volume(String source, String target) {
  }

  private static List<Volume> volumes(Map<String, Object> service) {
    List<Volume> volumes = new ArrayList<>();
    Object declared = service.get("volumes");
    if (declared == null) {
      return volumes;
    }
    for (Object volume : list(declared, "volumes")) {
      if (volume instanceof Map<?, ?> longForm) {
        volumes.add(new Volume(String.valueOf(longForm.get("source")), String.valueOf(longForm.get("target"))));
      } else {
        String[] parts = String.valueOf(volume).split(":");
        volumes.add(new Volume(parts[0], parts.length > 1 ? parts[1] : parts[0]));
      }
    }
    return volumes;
  }

  private static String urlHost(String url) {
    Matcher m = Pattern.compile("://(?:[^@/]*@)?([^:/]+)").matcher(url);
    assertTrue(m.find(), "no host in " + url);
    return m.group(1);
  }

  // --- Dockerfile ---

  private record Copy(String from, List<String> sources, String destination) {
  }

  private record Stage(String name, List<String> instructions) {
    String workdir() {
      String workdir = last("WORKDIR");
      return workdir == null ? "/" : workdir;
    }

    String last(String keyword) {
      String found = null;
      for (String instruction : instructions) {
        if (instruction.startsWith(keyword + " ")) {
          found = instruction.substring(keyword.length() + 1).trim();
        }
      }
      return found;
    }

    List<Copy> copies() {
      List<Copy> copies = new ArrayList<>();
      for (String instruction : instructions) {
        if (!instruction.startsWith("COPY ")) {
          continue;
        }
        String from = null;
        List<String> args = new ArrayList<>();
        for (String token : instruction.substring(5).trim().split("\\s+")) {
          if (token.startsWith("--from=")) {
            from = token.substring(7);
          } else if (!token.startsWith("--")) {
            args.add(token);
          }
        }
        copies.add(new Copy(from, args.subList(0, args.size() - 1), args.get(args.size() - 1)));
      }
      return copies;
    }
  }

  /** The Dockerfile's instructions, continuation lines joined and comments dropped. */
  private static List<String> dockerfileLines() throws IOException {
    List<String> instructions = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : Files.readAllLines(DOCKERFILE)) {
      String trimmed = line.trim();
      if (trimmed.startsWith("#") || (trimmed.isEmpty() && current.length() == 0)) {
        continue;
      }
      if (trimmed.endsWith("\\")) {
        current.append(trimmed, 0, trimmed.length() - 1).append(' ');
      } else {
        current.append(trimmed);
        instructions.add(current.toString().trim());
        current.setLength(0);
      }
    }
    return instructions;
  }

  private static List<Stage> dockerfileStages() throws IOException {
    List<Stage> stages = new ArrayList<>();
    for (String instruction : dockerfileLines()) {
      String[] words = instruction.split("\\s+");
      if (words[0].equalsIgnoreCase("FROM")) {
        String name = words.length >= 4 && words[2].equalsIgnoreCase("AS") ? words[3] : String.valueOf(stages.size());
        stages.add(new Stage(name, new ArrayList<>()));
      } else {
        assertFalse(stages.isEmpty(), DOCKERFILE + " has an instruction before its first FROM: " + instruction);
        stages.get(stages.size() - 1).instructions()
            .add(words[0].toUpperCase() + instruction.substring(words[0].length()));
      }
    }
    return stages;
  }

  /** The arguments of every instruction with this keyword, in every stage. */
  private static List<String> dockerfileInstructions(String keyword) throws IOException {
    List<String> found = new ArrayList<>();
    for (Stage stage : dockerfileStages()) {
      for (String instruction : stage.instructions()) {
        if (instruction.startsWith(keyword + " ")) {
          found.add(instruction.substring(keyword.length() + 1).trim());
        }
      }
    }
    return found;
  }

  /** The final stage's ENV, in the {@code ENV NAME=value} form. */
  private static Map<String, String> dockerfileEnv() throws IOException {
    List<Stage> stages = dockerfileStages();
    Map<String, String> env = new LinkedHashMap<>();
    for (String instruction : stages.get(stages.size() - 1).instructions()) {
      if (instruction.startsWith("ENV ")) {
        for (String assignment : instruction.substring(4).trim().split("\\s+")) {
          int eq = assignment.indexOf('=');
          assertTrue(eq > 0, "use ENV NAME=value in " + DOCKERFILE + ": " + instruction);
          env.put(assignment.substring(0, eq), assignment.substring(eq + 1));
        }
      }
    }
    return env;
  }

  // --- pom.xml ---

  /** The jar the shade plugin writes, relative to the project: {@code <build directory>/<finalName>.jar}. */
  private static String shadedJar() throws Exception {
    Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile());
    Element build = child(pom.getDocumentElement(), "build");
    assertNotNull(build, "pom.xml has no <build>");
    String directory = text(child(build, "directory"), "target").replace("${project.basedir}/", "");
    String finalName = null;
    NodeList plugins = build.getElementsByTagName("plugin");
    for (int i = 0; i < plugins.getLength(); i++) {
      Element plugin = (Element) plugins.item(i);
      if ("maven-shade-plugin".equals(text(child(plugin, "artifactId"), null))) {
        NodeList names = plugin.getElementsByTagName("finalName");
        finalName = names.getLength() > 0 ? names.item(0).getTextContent().trim() : null;
        if (finalName == null) {
          // Without its own finalName the shade plugin replaces the main artifact.
          finalName = text(child(build, "finalName"), text(child(pom.getDocumentElement(), "artifactId"), null) + "-"
              + text(child(pom.getDocumentElement(), "version"), null));
        }
      }
    }
    assertNotNull(finalName, "pom.xml has no maven-shade-plugin");
    assertFalse(finalName.contains("${"), "cannot resolve the shade plugin's finalName " + finalName);
    return directory + "/" + finalName + ".jar";
  }

  private static Element child(Element parent, String name) {
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element && element.getTagName().equals(name)) {
        return element;
      }
    }
    return null;
  }

  private static String text(Element element, String otherwise) {
    return element == null ? otherwise : element.getTextContent().trim();
  }

  // --- YAML shapes ---

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object value, String what) {
    assertTrue(value instanceof Map, what + " should be a mapping, is " + value);
    return (Map<String, Object>) value;
  }

  private static List<?> list(Object value, String what) {
    assertTrue(value instanceof List, what + " should be a list, is " + value);
    return (List<?>) value;
  }
}
