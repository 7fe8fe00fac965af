"""Pure orchestration logic (history rules, actions, status): no asyncio, no store, no gRPC.

Filled by the Dapr-dialect issue (#3); the import-linter contract in pyproject.toml guards
its purity from the start.
"""
