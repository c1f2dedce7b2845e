"""Long maintenance off the request path: jobs recorded in the graph, run as asyncio tasks."""
