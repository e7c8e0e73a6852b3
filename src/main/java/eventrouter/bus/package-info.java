/** The event bus: every address the verticles talk over ({@link eventrouter.bus.Addresses}). */
package eventrouter.bus;
