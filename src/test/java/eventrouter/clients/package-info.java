/**
 * The client compatibility suite: the vendors' real SDKs send every call type they have to a real router, and the
 * tests check the warehouse rows (type, ids, {@code context.library}, skew-corrected timestamps). The JVM SDKs come
 * from Maven Central; the JavaScript SDKs are pinned in {@code clients/package.json} and its lock, and
 * {@code mvn verify} installs them ({@code npm ci}) before the tests. The browser SDKs run in headless Chromium on a
 * page served from another origin, once per transport ({@link eventrouter.clients.BrowserSdkTest}); the Node SDKs run
 * as {@code node} processes ({@link eventrouter.clients.NodeSdkTest}).
 */
package eventrouter.clients;
