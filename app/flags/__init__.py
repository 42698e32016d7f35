"""Feature flags: compile rollouts to Unleash's format, serve SDKs, sync an Unleash server."""
