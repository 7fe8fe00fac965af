"""HTTP edge (aiohttp): health now; the management API in later issues."""
