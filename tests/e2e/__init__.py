"""End-to-end runs of the SDKs' own published test suites against a real daemon."""
