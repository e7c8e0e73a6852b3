package eventrouter.realtime;

import eventrouter.rules.DueTimer;

/** A timer this instance claimed, with what completing the claim needs. */
record ClaimedTimer(String member, String due, DueTimer timer) {
}
