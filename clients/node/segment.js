// Segment's Node SDK (@segment/analytics-node) sends identify, page, track, group and alias to the router (it has no
// screen call), then flushes. Exits 0 only when the SDK reported every event delivered.
// Usage: node segment.js <routerUrl> <writeKey> <userId> <anonymousId>
'use strict';
const { Analytics } = require('@segment/analytics-node');

const [router, writeKey, userId, anonymousId] = process.argv.slice(2);
if (!router || !writeKey || !userId || !anonymousId) {
  console.error('usage: node segment.js <routerUrl> <writeKey> <userId> <anonymousId>');
  process.exit(2);
}

// One batch of all five events (flushAt), two retries at most, so that a refusal fails the script within seconds.
const analytics = new Analytics({ writeKey, host: router, flushAt: 5, flushInterval: 500, maxRetries: 2,
  httpRequestTimeout: 10000 });
const failures = [];
analytics.on('error', (error) => failures.push('error event: ' + describe(error)));
analytics.on('http_request', (request) => console.log(`${request.method} ${request.url}`));

function describe(error) {
  if (!error) {
    return String(error);
  }
  const reason = error.reason || error;
  return (error.code ? error.code + ': ' : '') + (reason.message || JSON.stringify(reason));
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
      properties: { sdk: 'analytics-node' }, context }, done)),
    send('track', (done) => analytics.track({ userId, anonymousId, event: 'Compatibility Checked',
      properties: { sdk: 'analytics-node' }, context }, done)),
    send('group', (done) => analytics.group({ userId, anonymousId, groupId: 'group-' + userId,
      traits: { name: 'Compat Inc' }, context }, done)),
    send('alias', (done) => analytics.alias({ userId, previousId: 'previous-' + userId, context }, done)),
  ];
  await Promise.all(sent);
  await analytics.closeAndFlush({ timeout: 20000 });
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
