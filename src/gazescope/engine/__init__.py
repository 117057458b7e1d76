"""Live tracking without a web framework: transport, slot, clock, writer, connection, handlers (docs/engine.md)."""
