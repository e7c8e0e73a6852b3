/**
 * Ingest for every official Segment and RudderStack SDK, browser, mobile and server: each endpoint and transport they
 * use (the long and the short paths, batches, the beacon, the AMP pixel), the write key wherever an SDK puts it, any
 * Content-Type and gzip, CORS with per-source origins, and the settings the browser SDKs load. Then size and count
 * limits, per-source rate limits, validation and normalisation, event by event. A request is answered only once every
 * event in it is acknowledged by the durable log: the valid ones in the events topic, the refused ones, with their
 * reasons, in the rejects topic.
 */
package eventrouter.ingest;
