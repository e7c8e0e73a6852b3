// Shared by the SDK pages: reads the query string, can skew the page's clock, and records what happened in
// window.harness (read by the Java test) and in #status. Loaded before any SDK.
(function () {
  'use strict';
  var query = new URLSearchParams(location.search);
  var params = {};
  query.forEach(function (value, key) { params[key] = value; });
  ['router', 'writeKey', 'userId', 'anonymousId', 'transport'].forEach(function (name) {
    if (!params[name]) {
      throw new Error('missing query parameter ' + name);
    }
  });

  var harness = { params: params, state: 'loading', errors: [], log: [], calls: [] };
  window.harness = harness;

  // Each page starts from empty storage, so that nothing a previous page left (ids, queued events) leaks in.
  try { localStorage.clear(); sessionStorage.clear(); } catch (e) { /* storage may be disabled */ }
  document.cookie.split(';').forEach(function (cookie) {
    var name = cookie.split('=')[0].trim();
    if (name) {
      document.cookie = name + '=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
    }
  });

  // skewMs moves the page's clock (Date.now() and new Date()) so that the router's skew correction can be checked.
  var skew = Number(params.skewMs || 0);
  if (skew) {
    var RealDate = Date;
    var SkewedDate = function () {
      var args = Array.prototype.slice.call(arguments);
      if (!(this instanceof SkewedDate)) {
        return new RealDate(RealDate.now() + skew).toString();
      }
      return args.length === 0 ? new RealDate(RealDate.now() + skew) : new (Function.prototype.bind.apply(RealDate, [null].concat(args)))();
    };
    SkewedDate.prototype = RealDate.prototype;
    SkewedDate.now = function () { return RealDate.now() + skew; };
    SkewedDate.parse = RealDate.parse;
    SkewedDate.UTC = RealDate.UTC;
    window.Date = SkewedDate;
  }

  function text(value) {
    if (value instanceof Error) {
      return value.name + ': ' + (value.message || '(no message)') + (value.stack ? ' at ' + value.stack.split('\n').slice(1, 3).join(' ').trim() : '');
    }
    if (typeof Response !== 'undefined' && value instanceof Response) {
      return 'HTTP ' + value.status + ' from ' + value.url;
    }
    if (typeof value === 'object') {
      try { return JSON.stringify(value); } catch (e) { return String(value); }
    }
    return String(value);
  }

  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      var line = level + ': ' + Array.prototype.map.call(arguments, text).join(' ');
      harness.log.push(line.slice(0, 2000));
      original.apply(console, arguments);
    };
  });
  window.addEventListener('error', function (e) { harness.errors.push('uncaught: ' + (e.message || text(e.error))); });
  window.addEventListener('unhandledrejection', function (e) { harness.errors.push('unhandled rejection: ' + text(e.reason)); });

  function show() {
    var status = document.getElementById('status');
    if (status) {
      status.textContent = harness.state + (harness.errors.length ? ' (' + harness.errors.join('; ') + ')' : '');
    }
  }

  /** The page has made every call; the test now waits for the warehouse rows. */
  harness.done = function () {
    harness.state = 'done';
    show();
  };

  harness.fail = function (error) {
    harness.errors.push(text(error));
    harness.state = 'failed';
    show();
  };

  /** Fails the page unless it has loaded within the time: an SDK that cannot load may never say so. */
  harness.loadWithin = function (ms) {
    setTimeout(function () {
      if (harness.state === 'loading') {
        harness.fail('the SDK did not load within ' + ms + ' ms');
      }
    }, ms);
  };

  harness.called = function (name) {
    harness.calls.push(name);
  };

  document.addEventListener('DOMContentLoaded', show);
})();
