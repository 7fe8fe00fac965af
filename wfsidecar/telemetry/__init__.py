"""Telemetry: the one observer seam (observer.py) and its implementations (metrics,
tracing), which only the composition root chooses and wires."""
