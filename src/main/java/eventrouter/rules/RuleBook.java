package eventrouter.rules;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The rules in force, shared by every real-time instance of a node, and reloadable from their file: a reload that
 * fails keeps the rules in force. Armed timers live outside (in Redis) and outlast any reload.
 */
public final class RuleBook {
  private final Path file;
  private final AtomicReference<RuleEngine> current;

  public RuleBook(Path file) {
    this.file = file;
    this.current = new AtomicReference<>(RuleEngine.load(file));
  }

  public RuleEngine current() {
    return current.get();
  }

  public Path file() {
    return file;
  }

  /** Reads the file again; on success the new rules are in force and returned, otherwise this throws and nothing changes. */
  public RuleEngine reload() {
    RuleEngine fresh = RuleEngine.load(file);
    current.set(fresh);
    return fresh;
  }
}
