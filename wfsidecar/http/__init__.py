"""HTTP edge (aiohttp): health, Dapr's workflow API and its extensions (docs/http-api.md)."""
