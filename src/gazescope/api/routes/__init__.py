"""Routers of the service, split by concern: sessions (REST), tracking (WebSockets), seeds (the
seed-compatible endpoints), ops (health, readiness, metrics)."""
