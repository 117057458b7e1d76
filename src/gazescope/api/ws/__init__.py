"""WebSocket bindings: Starlette WebSockets adapted to the engine (tracking) and the live observers."""
