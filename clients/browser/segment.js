// Segment's analytics-next (global AnalyticsNext) sends identify, page, track, group, alias and screen to the router.
// transport=fetch: one fetch per event to <apiHost>/i, /p, /t, /g, /a, /s (the default).
// transport=keepalive: the same with keepalive fetches.
// transport=batching: the batching delivery strategy, POST <apiHost>/b.
// Settings come from the router: GET <cdnURL>/v1/projects/<writeKey>/settings.
(async function () {
  'use strict';
  var harness = window.harness;
  var p = harness.params;
  harness.loadWithin(10000);
  try {
    var integrations = {};
    if (p.transport === 'batching') {
      // 4 events fill a batch (sent at once); the other 2 go when the timeout fires.
      integrations['Segment.io'] = { deliveryStrategy: { strategy: 'batching', config: { size: 4, timeout: 300 } } };
    } else if (p.transport === 'keepalive') {
      // The default one-request-per-event strategy with keepalive fetches, which outlive the page.
      integrations['Segment.io'] = { deliveryStrategy: { strategy: 'standard', config: { keepalive: true } } };
    } else if (p.transport !== 'fetch') {
      throw new Error('unknown transport ' + p.transport + ' (fetch, keepalive or batching)');
    }
    var loaded = await AnalyticsNext.AnalyticsBrowser.load(
        { writeKey: p.writeKey, cdnURL: p.router },
        { integrations: integrations, disableClientPersistence: true, retryQueue: true });
    var analytics = loaded[0];
    harness.state = 'loaded';
    analytics.on('error', function (e) {
      harness.errors.push('error event ' + (e.code || '') + ': ' + (e.reason && e.reason.message || JSON.stringify(e)));
    });
    analytics.setAnonymousId(p.anonymousId);
    var run = p.userId;
    var calls = [
      ['identify', function () { return analytics.identify(p.userId, { email: run + '@example.com', plan: 'pro' }); }],
      ['page', function () { return analytics.page('Docs', 'Compatibility', { transport: p.transport }); }],
      ['track', function () { return analytics.track('Compatibility Checked', { transport: p.transport, sdk: 'analytics-next' }); }],
      ['group', function () { return analytics.group('group-' + run, { name: 'Compat Inc' }); }],
      ['alias', function () { return analytics.alias(p.userId, 'previous-' + run); }],
      ['screen', function () { return analytics.screen('Home', 'Compatibility', { transport: p.transport }); }],
    ];
    for (var i = 0; i < calls.length; i++) {
      var ctx = await calls[i][1]();
      harness.called(calls[i][0]);
      var failure = ctx && ctx.failedDelivery && ctx.failedDelivery();
      if (failure) {
        harness.errors.push(calls[i][0] + ' failed delivery: ' + (failure.reason && failure.reason.message || JSON.stringify(failure)));
      }
    }
    harness.done();
  } catch (e) {
    harness.fail(e);
  }
})();
