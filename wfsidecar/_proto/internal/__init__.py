"""wfsidecar's internal superset of both dialects: storage and engine (generated)."""
