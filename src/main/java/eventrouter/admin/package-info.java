/** Operations: the health endpoint and the bearer-token-protected {@code /admin} API. */
package eventrouter.admin;
