/** Every event-bus address of the router, declared once with its payload, in {@link eventrouter.bus.Addresses}. */
package eventrouter.bus;
