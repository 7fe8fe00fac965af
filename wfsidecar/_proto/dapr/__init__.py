"""Dapr-dialect TaskHubSidecarService messages (generated)."""
