/**
 * The client compatibility suite: the vendors' real JavaScript SDKs, pinned in {@code clients/package.json} and its
 * lock, send every call type to a real router, and the tests check the warehouse rows. The browser SDKs run in
 * headless Chromium on a page served from another origin, once per transport; the Node SDKs run as {@code node}
 * processes. {@code mvn verify} installs the SDKs ({@code npm ci}) before the tests.
 */
package eventrouter.clients;
