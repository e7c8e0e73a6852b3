/**
 * HTTP ingest compatible with the Segment and RudderStack SDKs: write-key auth, gzip, size and count limits,
 * per-source rate limits, validation and normalisation. A request is answered 200 only once every event in it
 * is acknowledged by the durable log.
 */
package eventrouter.ingest;
