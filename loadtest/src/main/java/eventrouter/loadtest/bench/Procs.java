package eventrouter.loadtest.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * CPU time of processes and threads as Linux's {@code /proc} counts it, in clock ticks ({@code utime + stime}, which
 * the kernel keeps per thread and sums per process, including the threads that have ended).
 */
final class Procs {
  /** {@code USER_HZ}: 100 on every Linux this runs on (checked with {@code getconf CLK_TCK} in bench.sh). */
  static final int TICKS_PER_SECOND = 100;

  private Procs() {
  }

  /** One {@code /proc/PID/stat} line's fields of interest. */
  record Stat(int pid, int ppid, String comm, long ticks, long childTicks) {
  }

  /** The stat of {@code /proc/PID} or {@code /proc/PID/task/TID}; null once the process or thread is gone. */
  static Stat stat(Path dir) {
    String line;
    try {
      line = Files.readString(dir.resolve("stat"));
    } catch (IOException gone) {
      return null;
    }
    // comm may hold spaces and parentheses: it ends at the last ')'.
    int open = line.indexOf('(');
    int close = line.lastIndexOf(')');
    String[] f = line.substring(close + 2).trim().split(" ");
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return new Stat(Integer.parseInt(line.substring(0, open).trim()), Integer.parseInt(f[1]),
        line.substring(open + 1, close), Long.parseLong(f[11]) + Long.parseLong(f[12]),
        Long.parseLong(f[13]) + Long.parseLong(f[14]));
  }

  static Stat process(long pid) {
    return stat(Path.of("/proc", Long.toString(pid)));
  }

  /** Every thread of {@code pid}: tid → its stat (comm is the thread's name, cut to 15 characters). */
  static Map<Integer, Stat> threads(long pid) {
    Map<Integer, Stat> out = new HashMap<>();
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks) {
        Stat stat = stat(task);
        if (stat != null) {
          out.put(stat.pid(), stat);
        }
      }
    } catch (IOException gone) {
      // the process ended: no threads
    }
    return out;
  }

  /** Every process on the machine: pid → stat. */
  static Map<Integer, Stat> all() {
    Map<Integer, Stat> out = new HashMap<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
        .chars().allMatch(Character::isDigit))) {
      for (Path proc : procs) {
        Stat stat = stat(proc);
        if (stat != null) {
          out.put(stat.pid(), stat);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot list /proc", e);
    }
    return out;
  }

  /** {@code root} and every process below it, from a snapshot of {@link #all()}. */
  static Set<Integer> tree(int root, Map<Integer, Stat> all) {
    Map<Integer, List<Integer>> children = new HashMap<>();
    all.values().forEach(s -> children.computeIfAbsent(s.ppid(), k -> new java.util.ArrayList<>()).add(s.pid()));
    Set<Integer> out = new HashSet<>();
    Deque<Integer> todo = new ArrayDeque<>(List.of(root));
    while (!todo.isEmpty()) {
      int pid = todo.pop();
      if (out.add(pid)) {
        todo.addAll(children.getOrDefault(pid, List.of()));
      }
    }
    return out;
  }

  /** The machine's busy CPU ticks, all cores, every process (the first line of {@code /proc/stat}, idle excluded). */
  static long machineBusyTicks() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      // cpu user nice system idle iowait irq softirq steal ...
      long busy = 0;
      for (int i = 1; i < Math.min(f.length, 9); i++) {
        if (i != 4 && i != 5) {
          busy += Long.parseLong(f[i]);
        }
      }
      return busy;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read /proc/stat", e);
    }
  }

  /**
   * The process that listens on TCP {@code port} (IPv4 or IPv6), found through its socket's inode: the way to find
   * a server we did not start (the machine's Postgres) or one the router started (its embedded Postgres).
   *
   * @return the pid, or -1 when no process we can see listens there
   */
  static int listener(int port) {
    Set<String> inodes = new HashSet<>();
    String hexPort = String.format(Locale.ROOT, ":%04X", port);
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      try {
        for (String line : Files.readAllLines(Path.of(table))) {
          String[] f = line.trim().split("\\s+");
          // local_address is f[1]; st 0A is LISTEN; the inode is f[9].
          if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals("0A")) {
            inodes.add("socket:[" + f[9] + "]");
          }
        }
      } catch (IOException absent) {
        // no IPv6 table
      }
    }
    if (inodes.isEmpty()) {
      return -1;
    }
    for (int pid : all().keySet()) {
      try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Integer.toString(pid), "fd"))) {
        for (Path fd : fds) {
          try {
            if (inodes.contains(Files.readSymbolicLink(fd).toString())) {
              return pid;
            }
          } catch (IOException closed) {
            // the descriptor closed while we looked
          }
        }
      } catch (IOException notOurs) {
        // gone, or not readable by this user
      }
    }
    return -1;
  }
}
