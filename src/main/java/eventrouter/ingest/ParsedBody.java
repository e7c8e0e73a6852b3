package eventrouter.ingest;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A request body split into its events.
 *
 * @param envelope the batch's own fields ({@code context}, {@code integrations}, {@code sentAt}, {@code writeKey});
 *     for a single-event request, the event itself
 * @param events the events, in request order
 * @param eventSizes each event's size in bytes as sent, for the per-event limit
 * @param batch whether the events came in a {@code batch} array, which decides how errors name them
 */
public record ParsedBody(ObjectNode envelope, List<ObjectNode> events, int[] eventSizes, boolean batch) {
}
