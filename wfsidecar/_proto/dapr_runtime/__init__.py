"""Dapr runtime API (dapr.proto.runtime.v1.Dapr): the workflow RPCs only (generated)."""
