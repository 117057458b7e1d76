"""Storage of sessions, samples, reports, documents and blobs, and live fan-out of session messages.

* :class:`Store` (``base.py``): the synchronous protocol the API calls from its thread pool.
* :class:`SQLiteStore` (``sqlite.py``): the embedded default, one SQLite file in WAL mode.
* :class:`RedisStore` (``redis.py``): the scale-out store, for several API processes.
* :class:`LiveHub` (``live.py``): :class:`LocalLiveHub` in-process, :class:`RedisLiveHub` over pub/sub.
* :class:`SessionOwnership` (``ownership.py``): which process tracks a session (one process, or Redis).

:func:`create_store` and :func:`create_live_hub` pick the implementations from
``Settings.store_kind`` ('sqlite' unless a Redis URL is configured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gazescope.errors import ConfigurationError
from gazescope.storage.base import Store
from gazescope.storage.live import LiveHub, LocalLiveHub, RedisLiveHub, Subscription
from gazescope.storage.ownership import LocalOwnership, RedisOwnership, SessionOwnership
from gazescope.storage.redis import RedisStore
from gazescope.storage.sqlite import SQLiteStore

if TYPE_CHECKING:
    from gazescope.config import StorageSettings

__all__ = [
    "LiveHub",
    "LocalLiveHub",
    "LocalOwnership",
    "RedisLiveHub",
    "RedisOwnership",
    "RedisStore",
    "SQLiteStore",
    "SessionOwnership",
    "Store",
    "Subscription",
    "create_live_hub",
    "create_ownership",
    "create_store",
]


def create_store(settings: StorageSettings) -> Store:
    """The store ``settings`` ask for: ``SQLiteStore(settings.db_path)`` or
    ``RedisStore(settings.redis_url)``.

    Raises ``ConfigurationError`` when Redis is selected without a URL, ``StorageError`` when the SQLite
    file cannot be opened. A Redis store connects lazily; check it with ``ping()``.
    """
    if settings.store_kind == "redis":
        if not settings.redis_url:
            raise ConfigurationError("the Redis store needs GAZESCOPE_REDIS_URL")
        return RedisStore(settings.redis_url)
    return SQLiteStore(settings.db_path)


def create_live_hub(settings: StorageSettings) -> LiveHub:
    """The live hub matching the store: ``RedisLiveHub`` for Redis (observers may be connected to another
    API process), else the in-process ``LocalLiveHub``."""
    if settings.store_kind == "redis":
        if not settings.redis_url:
            raise ConfigurationError("the Redis live hub needs GAZESCOPE_REDIS_URL")
        return RedisLiveHub(settings.redis_url)
    return LocalLiveHub()


def create_ownership(settings: StorageSettings) -> SessionOwnership:
    """Tracking-connection ownership matching the store: ``RedisOwnership`` for Redis (several processes
    may serve one session's clients), else the one-process ``LocalOwnership``."""
    if settings.store_kind == "redis":
        if not settings.redis_url:
            raise ConfigurationError("Redis ownership needs GAZESCOPE_REDIS_URL")
        return RedisOwnership(settings.redis_url, settings=settings)
    return LocalOwnership()
