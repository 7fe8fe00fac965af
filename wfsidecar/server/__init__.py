"""gRPC edge: listeners, and (from the dialect issues on) the sidecar services."""
