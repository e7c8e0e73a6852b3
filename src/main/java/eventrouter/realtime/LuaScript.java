package eventrouter.realtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A Lua script from {@code src/main/resources/lua}, with the shared library prepended, and its SHA-1 for EVALSHA. */
record LuaScript(String name, String source, String sha) {
  static final LuaScript APPLY_EVENTS = load("apply_events.lua");
  static final LuaScript APPLY_EFFECTS = load("apply_effects.lua");
  static final LuaScript CLAIM_TIMERS = load("claim_timers.lua");
  static final LuaScript COMPLETE_TIMER = load("complete_timer.lua");
  static final LuaScript DESCRIBE_USER = load("describe_user.lua");

  private static LuaScript load(String name) {
    String source = read("lib.lua") + "\n" + read(name);
    try {
      byte[] digest = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
      return new LuaScript(name, source, HexFormat.of().formatHex(digest));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is part of every JRE", e);
    }
  }

  private static String read(String name) {
    try (InputStream in = LuaScript.class.getResourceAsStream("/lua/" + name)) {
      if (in == null) {
        throw new IllegalStateException("Lua script " + name + " is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
