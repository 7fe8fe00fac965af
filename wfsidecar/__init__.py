"""wfsidecar: a durable workflow sidecar daemon."""

__version__ = "0.1.0.dev0"
