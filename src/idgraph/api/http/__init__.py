"""The HTTP transport: the ASGI app, front door, middleware (ids, limits, keys, rates), logs."""
