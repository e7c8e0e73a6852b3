// RudderStack's Node SDK (@rudderstack/rudder-sdk-node) sends identify, page, screen, track, group and alias to the
// router, then flushes. Exits 0 only when the SDK reported every event delivered.
// Usage: node rudderstack.js <routerUrl> <writeKey> <userId> <anonymousId>
'use strict';
const Analytics = require('@rudderstack/rudder-sdk-node');

const [router, writeKey, userId, anonymousId] = process.argv.slice(2);
if (!router || !writeKey || !userId || !anonymousId) {
  console.error('usage: node rudderstack.js <routerUrl> <writeKey> <userId> <anonymousId>');
  process.exit(2);
}

// All six events in one batch (flushAt); one retry, so that a refusal fails the script within seconds. The SDK
// gzips the batch by default (gzip: true).
const failures = [];
const analytics = new Analytics(writeKey, { dataPlaneUrl: router, flushAt: 6, flushInterval: 500, retryCount: 1,
  timeout: 10000, logLevel: 'error' });

function describe(error) {
  if (!error) {
    return String(error);
  }
  const status = error.response ? ` (HTTP ${error.response.status}: ${JSON.stringify(error.response.data)})` : '';
  return (error.message || String(error)) + status;
}

function send(type, call) {
  return new Promise((resolve) => {
    call((error) => {
      if (error) {
        failures.push(`${type}: ${describe(error)}`);
      } else {
        console.log(`${type} delivered`);
      }
      resolve();
    });
  });
}

async function main() {
  const context = { app: { name: 'compat-suite' } };
  const sent = [
    send('identify', (done) => analytics.identify({ userId, anonymousId, traits: { plan: 'pro' }, context }, done)),
    send('page', (done) => analytics.page({ userId, anonymousId, category: 'Docs', name: 'Compatibility',
      properties: { sdk: 'rudder-sdk-node' }, context }, done)),
    send('screen', (done) => analytics.screen({ userId, anonymousId, name: 'Home',
      properties: { sdk: 'rudder-sdk-node' }, context }, done)),
    send('track', (done) => analytics.track({ userId, anonymousId, event: 'Compatibility Checked',
      properties: { sdk: 'rudder-sdk-node' }, context }, done)),
    send('group', (done) => analytics.group({ userId, anonymousId, groupId: 'group-' + userId,
      traits: { name: 'Compat Inc' }, context }, done)),
    send('alias', (done) => analytics.alias({ userId, previousId: 'previous-' + userId, context }, done)),
  ];
  try {
    await analytics.flush();
  } catch (error) {
    failures.push('flush: ' + describe(error));
  }
  await Promise.all(sent);
  if (failures.length) {
    console.error('the SDK reported failures:\n  ' + failures.join('\n  '));
    process.exit(1);
  }
  console.log('all events delivered');
}

main().catch((error) => {
  console.error('failed: ' + (error && error.stack || error));
  process.exit(1);
});
