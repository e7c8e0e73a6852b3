// RudderStack's analytics-js v3 (its bundled UMD build: global rudderanalytics.RudderAnalytics) sends identify, page,
// track, group and alias to the router (it has no screen call).
// transport=xhr: the default XHR queue, one POST <dataPlaneUrl>/v1/<type> per event.
// transport=batch: the XHR queue's batching, POST <dataPlaneUrl>/v1/batch.
// transport=beacon: navigator.sendBeacon to <dataPlaneUrl>/beacon/v1/batch?writeKey=<key>.
// The source config comes from the router: GET <configUrl>/sourceConfig/?...&writeKey=<key>.
(function () {
  'use strict';
  var harness = window.harness;
  var p = harness.params;
  harness.loadWithin(10000);
  try {
    var options = {
      configUrl: p.router,
      logLevel: 'WARN',
      // Nothing may come from a vendor's CDN: no device-mode destinations, no polyfill, no plugins loaded remotely
      // (the bundled build carries the ones listed), and their base URLs point at the router to be sure.
      loadIntegration: false,
      polyfillIfRequired: false,
      destSDKBaseURL: p.router + '/no-cdn/destinations',
      pluginsSDKBaseURL: p.router + '/no-cdn/plugins',
      sendAdblockPage: false,
      consentManagement: { enabled: false },
    };
    // Its default cookie storage is encrypted and migrated by two bundled plugins; without them it warns.
    var storagePlugins = ['StorageEncryption', 'StorageMigrator'];
    if (p.transport === 'xhr') {
      options.plugins = ['XhrQueue'].concat(storagePlugins);
    } else if (p.transport === 'batch') {
      options.plugins = ['XhrQueue'].concat(storagePlugins);
      // 4 events fill a batch (sent at once); the fifth goes when the interval fires.
      options.queueOptions = { batch: { enabled: true, maxItems: 4, flushInterval: 300 } };
    } else if (p.transport === 'beacon') {
      options.plugins = ['BeaconQueue'].concat(storagePlugins);
      options.useBeacon = true;
      options.beaconQueueOptions = { maxItems: 4, flushQueueInterval: 300 };
    } else {
      throw new Error('unknown transport ' + p.transport + ' (xhr, batch or beacon)');
    }
    var analytics = new rudderanalytics.RudderAnalytics();
    options.onLoaded = function () {
      harness.state = 'loaded';
    };
    analytics.load(p.writeKey, p.router, options);
    analytics.ready(function () {
      try {
        analytics.setAnonymousId(p.anonymousId);
        var run = p.userId;
        analytics.identify(p.userId, { email: run + '@example.com', plan: 'pro' });
        harness.called('identify');
        analytics.page('Docs', 'Compatibility', { transport: p.transport });
        harness.called('page');
        analytics.track('Compatibility Checked', { transport: p.transport, sdk: 'analytics-js' });
        harness.called('track');
        analytics.group('group-' + run, { name: 'Compat Inc' });
        harness.called('group');
        analytics.alias(p.userId, 'previous-' + run);
        harness.called('alias');
        harness.done();
      } catch (e) {
        harness.fail(e);
      }
    });
  } catch (e) {
    harness.fail(e);
  }
})();
