"""Microsoft-dialect TaskHubSidecarService messages (generated)."""
