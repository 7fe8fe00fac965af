"""Bounded bad-input fuzzing against an in-process daemon (issue 5, item 6)."""
