"""WebSocket bindings: Starlette WebSockets adapted to the engine (tracking), the live observers, and the
message handlers registered on each app (calibration, clicks, stimulus video time)."""
