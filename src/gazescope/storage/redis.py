"""The scale-out store: Redis through redis-py (https://redis.readthedocs.io/).

Keys (``P`` is the key prefix, ``gazescope`` by default):

=================================== =============================================================
``P:session:{id}``                  hash, one field per ``SessionInfo`` field, each value JSON-encoded
                                    (so ``sample_count`` is a plain integer and ``HINCRBY`` works)
``P:sessions``                      sorted set of session ids scored by ``created_at_ms``
``P:sessions:user:{user_id}``       the same, per user
``P:sessions:stimulus:{stim_id}``   the same, per stimulus
``P:samples:{id}``                  stream, one entry per sample: ``d`` (the sample JSON) and, when present,
                                    ``frame_index`` and ``t_ms``. Entry ids are ``0-{index + 1}`` (index =
                                    0-based sample index), so reading from an offset is one ``XRANGE``
``P:frames:{id}``                   set of the stored samples' ``frame_index`` values: a replayed sample
                                    (same frame_index) is skipped, so appends are idempotent (an int set
                                    costs ~8-60 bytes a sample, against ~700 for the sample itself)
``P:report:{id}``                   string, the report JSON
``P:session_docs:{id}``             set of ``[collection, doc_id]`` JSON pairs (the linked documents)
``P:docs:{collection}``             hash doc_id -> document JSON
``P:blob:{key}``                    string, the bytes
``P:study:{id}``                    string, the study record JSON
``P:studies``                       sorted set of study ids scored by ``created_at_ms``
``P:study_token:{token_hash}``      string, the id of the study whose link token hashes to it
``P:participants:{study_id}``       hash participant id -> participant record JSON
=================================== =============================================================

Every multi-key change is a ``MULTI``/``EXEC`` transaction guarded by ``WATCH`` (redis-py
``Redis.transaction``, which retries when a watched key changed), so that a batch of samples is added
completely or not at all, the session's ``sample_count`` always equals the stream length, and
``delete_session`` cannot race with an append or a newly linked document. A session's samples are appended
in one transaction pipeline per batch (one round trip); a whole session is read with ``XRANGE`` in chunks of
:data:`READ_CHUNK` entries.

The client is thread-safe (redis-py connection pool). Redis errors (unreachable, timeouts, refused
commands) raise ``StorageError`` whose message names the URL without its password.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions
from redis.typing import EncodableT, FieldT

from gazescope.domain import SessionInfo
from gazescope.errors import NotFoundError, SessionNotFoundError, StorageError, ValidationError
from gazescope.storage import base

#: Stream entries fetched per XRANGE call when reading samples.
READ_CHUNK = 5000
#: Session ids fetched per ZREVRANGEBYSCORE call when a filter has to be applied in Python.
LIST_CHUNK = 500

P = ParamSpec("P")
R = TypeVar("R")


def redact_url(url: str) -> str:
    """``url`` with its password (userinfo or ``?password=``) replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        if parts.password is None and not any(k.lower() == "password" for k, _ in query_pairs):
            return url
        netloc = parts.netloc
        if parts.password is not None:
            host = parts.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            user = parts.username or ""
            netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in query_pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparseable redis url>"


def _not_found(session_id: object) -> SessionNotFoundError:
    return SessionNotFoundError(f"session {session_id!r} not found")


def _redis_call(method: Callable[P, R]) -> Callable[P, R]:
    """Run a RedisStore method: refuse when closed, turn redis-py errors into ``StorageError``."""

    @functools.wraps(method)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        assert isinstance(self, RedisStore)
        if self._closed:
            raise StorageError(f"{self!r} is closed")
        try:
            return method(*args, **kwargs)
        except redis.exceptions.RedisError as exc:
            raise StorageError(f"Redis at {self.safe_url}: {type(exc).__name__}: {exc}") from exc

    return inner


def text(value: bytes | str | object) -> str:
    """A reply value as text: the client returns bytes (no ``decode_responses``), typed as bytes or str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _encode_session(info: SessionInfo) -> dict[FieldT, EncodableT]:
    return {name: json.dumps(getattr(info, name)) for name in base.SESSION_FIELDS}


def _decode_session(raw: Mapping[bytes, bytes] | Mapping[bytes | str, bytes | str]) -> SessionInfo:
    return SessionInfo.from_dict({text(k): json.loads(v) for k, v in raw.items()})


def _entry_index(entry_id: bytes) -> int:
    """0-based sample index of stream entry id ``0-{index + 1}``."""
    return int(entry_id.split(b"-", 1)[1]) - 1


class RedisStore(base.DocumentWrites):
    """:class:`~gazescope.storage.base.Store` in Redis; see the module docstring for keys and guarantees.

    ``url``: ``redis://[[user]:password@]host:port/db`` (or ``rediss://``, ``unix://``); ``prefix``: key
    prefix (several deployments or test runs can share one Redis); ``socket_timeout_s``: connect and command
    timeout.
    Nothing is sent before the first call. ``ValidationError`` for a URL redis-py cannot parse.
    """

    def __init__(self, url: str, *, prefix: str = "gazescope", socket_timeout_s: float = 5.0) -> None:
        self.safe_url = redact_url(url)
        if not prefix or any(c.isspace() for c in prefix):
            raise ValidationError(f"invalid Redis key prefix {prefix!r}")
        self.prefix = prefix
        self._closed = False
        try:
            self._r = redis.Redis.from_url(
                url,
                socket_connect_timeout=socket_timeout_s,
                socket_timeout=socket_timeout_s,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise ValidationError(f"invalid Redis URL {self.safe_url}: {exc}") from exc

    def __repr__(self) -> str:
        return f"RedisStore({self.safe_url!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The underlying redis-py client (for health checks and tests)."""
        return self._r

    def _transaction(self, tx: Callable[[redis.client.Pipeline], R], *watched: str) -> R:
        """``Redis.transaction`` returning what ``tx`` returns (redis-py types its callable as returning
        None)."""
        return typing.cast(R, self._r.transaction(tx, *watched, value_from_callable=True))  # type: ignore[arg-type]

    # --- key names -----------------------------------------------------------------------------------

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{session_id}"

    def samples_key(self, session_id: str) -> str:
        return f"{self.prefix}:samples:{session_id}"

    def frames_key(self, session_id: str) -> str:
        return f"{self.prefix}:frames:{session_id}"

    def report_key(self, session_id: str) -> str:
        return f"{self.prefix}:report:{session_id}"

    def links_key(self, session_id: str) -> str:
        return f"{self.prefix}:session_docs:{session_id}"

    def _index_keys(self, info: SessionInfo) -> list[str]:
        keys = [f"{self.prefix}:sessions"]
        if info.user_id is not None:
            keys.append(f"{self.prefix}:sessions:user:{info.user_id}")
        if info.stimulus_id is not None:
            keys.append(f"{self.prefix}:sessions:stimulus:{info.stimulus_id}")
        return keys

    def _docs_key(self, collection: str) -> str:
        return f"{self.prefix}:docs:{collection}"

    def _blob_key(self, key: str) -> str:
        return f"{self.prefix}:blob:{key}"

    # --- sessions ------------------------------------------------------------------------------------

    @_redis_call
    def create_session(self, info: SessionInfo) -> SessionInfo:
        info = base.normalize_session(info)
        if info.sample_count != 0:
            raise ValidationError(f"a new session has sample_count 0, got {info.sample_count}")
        sk = self.session_key(info.id)

        def tx(pipe: redis.client.Pipeline) -> None:
            if pipe.exists(sk):
                raise ValidationError(f"session {info.id!r} already exists", code="session_exists")
            pipe.multi()
            pipe.hset(sk, mapping=_encode_session(info))
            for index_key in self._index_keys(info):
                pipe.zadd(index_key, {info.id: info.created_at_ms})

        self._r.transaction(tx, sk)
        return info

    @_redis_call
    def get_session(self, session_id: str) -> SessionInfo:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        raw = self._r.hgetall(self.session_key(session_id))
        if not raw:
            raise _not_found(session_id)
        return _decode_session(raw)

    @_redis_call
    def count_sessions(self) -> int:
        return int(self._r.zcard(f"{self.prefix}:sessions"))

    @_redis_call
    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        stimulus_id: str | None = None,
        since_ms: float | None = None,
        until_ms: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[SessionInfo]:
        limit, offset = base.check_paging(limit, offset)
        if limit == 0:
            return []
        if stimulus_id is not None:
            index_key = f"{self.prefix}:sessions:stimulus:{stimulus_id}"
        elif user_id is not None:
            index_key = f"{self.prefix}:sessions:user:{user_id}"
        else:
            index_key = f"{self.prefix}:sessions"
        hi: float | str = "+inf" if until_ms is None else float(until_ms)
        lo: float | str = "-inf" if since_ms is None else float(since_ms)

        def wanted(info: SessionInfo) -> bool:
            return (user_id is None or info.user_id == user_id) and (
                stimulus_id is None or info.stimulus_id == stimulus_id
            )

        # The index answers every filter but user_id when stimulus_id is also given; then page in Python.
        python_filter = user_id is not None and stimulus_id is not None
        out: list[SessionInfo] = []
        to_skip = offset if python_filter else 0
        pos = 0 if python_filter else offset
        while len(out) < limit:
            chunk = LIST_CHUNK if python_filter else limit - len(out)
            ids = self._r.zrevrangebyscore(index_key, hi, lo, start=pos, num=chunk)
            if not ids:
                break
            pos += len(ids)
            with self._r.pipeline(transaction=False) as pipe:
                for sid in ids:
                    pipe.hgetall(self.session_key(text(sid)))
                raws = pipe.execute()
            for raw in raws:
                if not raw:  # deleted meanwhile
                    continue
                info = _decode_session(raw)
                if not wanted(info):
                    continue
                if to_skip:
                    to_skip -= 1
                    continue
                out.append(info)
                if len(out) == limit:
                    break
            if len(ids) < chunk:
                break
        return out

    @_redis_call
    def update_session(self, session_id: str, **fields: Any) -> SessionInfo:
        changes = base.check_update_fields(fields)
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        sk = self.session_key(session_id)

        def tx(pipe: redis.client.Pipeline) -> SessionInfo:
            raw = pipe.hgetall(sk)
            if not raw:
                raise _not_found(session_id)
            old = _decode_session(raw)
            new = base.apply_update(old, changes)
            if not changes:
                return new
            pipe.multi()
            pipe.hset(sk, mapping={name: json.dumps(v) for name, v in changes.items()})
            old_keys, new_keys = self._index_keys(old), self._index_keys(new)
            for k in set(old_keys) - set(new_keys):
                pipe.zrem(k, session_id)
            for k in new_keys:
                pipe.zadd(k, {session_id: new.created_at_ms})
            return new

        return self._transaction(tx, sk)

    @_redis_call
    def delete_session(self, session_id: str) -> None:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        sk, lk = self.session_key(session_id), self.links_key(session_id)

        def tx(pipe: redis.client.Pipeline) -> None:
            raw = pipe.hgetall(sk)
            if not raw:
                raise _not_found(session_id)
            info = _decode_session(raw)
            links = [json.loads(m) for m in pipe.smembers(lk)]
            pipe.multi()
            pipe.delete(
                sk, self.samples_key(session_id), self.frames_key(session_id), self.report_key(session_id), lk
            )
            for index_key in self._index_keys(info):
                pipe.zrem(index_key, session_id)
            for collection, doc_id in links:
                pipe.hdel(self._docs_key(collection), doc_id)

        self._r.transaction(tx, sk, lk)

    # --- samples -------------------------------------------------------------------------------------

    @_redis_call
    def append_samples(self, session_id: str, samples: list[dict[str, Any]]) -> int:
        rows = base.encode_samples(samples)  # validated before anything is written
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        sk, xk = self.session_key(session_id), self.samples_key(session_id)
        fk = self.frames_key(session_id)

        def tx(pipe: redis.client.Pipeline) -> int:
            raw = pipe.hget(sk, "sample_count")
            if raw is None:
                raise _not_found(session_id)
            count = int(raw)
            wanted = base.batch_frame_indices(rows)
            have = pipe.smismember(fk, wanted) if wanted else []
            kept = base.drop_replays(rows, {fi for fi, h in zip(wanted, have, strict=True) if h})
            if not kept:
                return count
            pipe.multi()
            for i, (frame_index, t_ms, body) in enumerate(kept):
                entry: dict[FieldT, EncodableT] = {"d": body}
                if frame_index is not None:
                    entry["frame_index"] = frame_index
                if t_ms is not None:
                    entry["t_ms"] = repr(t_ms)
                pipe.xadd(xk, entry, id=f"0-{count + i + 1}")
            pipe.hincrby(sk, "sample_count", len(kept))
            new = [fi for fi, _, _ in kept if fi is not None]
            if new:
                pipe.sadd(fk, *new)
            return count + len(kept)

        return self._transaction(tx, sk)

    @_redis_call
    def get_samples(
        self, session_id: str, *, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        start, limit = base.check_sample_range(start, limit)
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        xk = self.samples_key(session_id)
        if limit == 0:
            if not self._r.exists(self.session_key(session_id)):
                raise _not_found(session_id)
            return []
        bodies: list[bytes] = []
        first = True
        next_index = start
        while limit is None or len(bodies) < limit:
            chunk = READ_CHUNK if limit is None else min(READ_CHUNK, limit - len(bodies))
            if first:
                with self._r.pipeline(transaction=True) as pipe:
                    pipe.exists(self.session_key(session_id))
                    pipe.xrange(xk, min=f"0-{next_index + 1}", max="+", count=chunk)
                    exists, entries = pipe.execute()
                if not exists:
                    raise _not_found(session_id)
                first = False
            else:
                entries = self._r.xrange(xk, min=f"0-{next_index + 1}", max="+", count=chunk)
            bodies.extend(fields[b"d"] for _, fields in entries)
            if len(entries) < chunk:
                break
            next_index = _entry_index(entries[-1][0]) + 1
        return base.loads_json_list(bodies)

    @_redis_call
    def count_samples(self, session_id: str) -> int:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        raw = self._r.hget(self.session_key(session_id), "sample_count")
        if raw is None:
            raise _not_found(session_id)
        return int(raw)

    # --- reports -------------------------------------------------------------------------------------

    @_redis_call
    def save_report(self, session_id: str, report: dict[str, Any]) -> None:
        body = base.dumps_json(report, "report")
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        sk = self.session_key(session_id)

        def tx(pipe: redis.client.Pipeline) -> None:
            if not pipe.exists(sk):
                raise _not_found(session_id)
            pipe.multi()
            pipe.set(self.report_key(session_id), body)

        self._r.transaction(tx, sk)

    @_redis_call
    def get_report(self, session_id: str) -> dict[str, Any] | None:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.exists(self.session_key(session_id))
            pipe.get(self.report_key(session_id))
            exists, body = pipe.execute()
        if not exists:
            raise _not_found(session_id)
        return None if body is None else json.loads(body)

    # --- documents -----------------------------------------------------------------------------------

    @staticmethod
    def _link_member(collection: str, doc_id: str) -> str:
        return json.dumps([collection, doc_id])

    @_redis_call
    def _put_document(self, collection: str, doc_id: str, doc: dict[str, Any], expected: object) -> bool:
        """Store ``doc``; unless ``expected`` is ``base.UNCHECKED``, only when the stored one equals it."""
        body = base.document_body(collection, doc_id, doc)
        new_sid = base.linked_session(doc)
        dk = self._docs_key(collection)
        member = self._link_member(collection, doc_id)

        def tx(pipe: redis.client.Pipeline) -> bool:  # WATCH dk: EXEC fails (and is retried) if it changed
            old = pipe.hget(dk, doc_id)
            if expected is not base.UNCHECKED and (None if old is None else json.loads(old)) != expected:
                return False
            old_sid = base.linked_session(json.loads(old)) if old is not None else None
            pipe.multi()
            pipe.hset(dk, doc_id, body)
            if old_sid is not None and old_sid != new_sid:
                pipe.srem(self.links_key(old_sid), member)
            if new_sid is not None:
                pipe.sadd(self.links_key(new_sid), member)
            return True

        return self._transaction(tx, dk)

    @_redis_call
    def get_document(self, collection: str, doc_id: str) -> dict[str, Any]:
        base.check_collection(collection)
        body = self._r.hget(self._docs_key(collection), doc_id)
        if body is None:
            raise NotFoundError(f"no document {doc_id!r} in collection {collection!r}")
        return json.loads(body)

    @_redis_call
    def list_documents(self, collection: str, **equals_filters: Any) -> list[dict[str, Any]]:
        base.check_collection(collection)
        dk = self._docs_key(collection)
        sid = equals_filters.get("session_id")
        if isinstance(sid, str):  # the session's link set names its documents
            doc_ids = sorted(
                d
                for c, d in (json.loads(m) for m in self._r.smembers(self.links_key(sid)))
                if c == collection
            )
            bodies = self._r.hmget(dk, doc_ids) if doc_ids else []
            pairs = [(d, b) for d, b in zip(doc_ids, bodies, strict=True) if b is not None]
        else:
            pairs = sorted((text(k), v) for k, v in self._r.hgetall(dk).items())
        docs = base.loads_json_list(typing.cast("list[bytes]", [b for _, b in pairs]))  # replies are bytes
        return [d for d in docs if base.matches(d, equals_filters)]

    @_redis_call
    def count_documents(self, collection: str) -> int:
        base.check_collection(collection)
        return int(self._r.hlen(self._docs_key(collection)))

    @_redis_call
    def delete_document(self, collection: str, doc_id: str) -> bool:
        base.check_collection(collection)
        dk = self._docs_key(collection)

        def tx(pipe: redis.client.Pipeline) -> bool:
            old = pipe.hget(dk, doc_id)
            if old is None:
                return False
            old_sid = base.linked_session(json.loads(old))
            pipe.multi()
            pipe.hdel(dk, doc_id)
            if old_sid is not None:
                pipe.srem(self.links_key(old_sid), self._link_member(collection, doc_id))
            return True

        return self._transaction(tx, dk)

    # --- blobs ---------------------------------------------------------------------------------------

    @_redis_call
    def put_blob(self, key: str, data: bytes) -> None:
        base.check_blob_key(key)
        self._r.set(self._blob_key(key), base.check_blob_data(data))

    @_redis_call
    def get_blob(self, key: str) -> bytes:
        base.check_blob_key(key)
        data = self._r.get(self._blob_key(key))
        if data is None:
            raise NotFoundError(f"no blob {key!r}")
        return data if isinstance(data, bytes) else data.encode()

    @_redis_call
    def delete_blob(self, key: str) -> bool:
        base.check_blob_key(key)
        return bool(self._r.delete(self._blob_key(key)))

    # --- studies -------------------------------------------------------------------------------------

    def _study_key(self, study_id: str) -> str:
        return f"{self.prefix}:study:{study_id}"

    def _study_token_key(self, token_hash: str) -> str:
        return f"{self.prefix}:study_token:{token_hash}"

    def _participants_key(self, study_id: str) -> str:
        return f"{self.prefix}:participants:{study_id}"

    @_redis_call
    def save_study(self, study: dict[str, Any]) -> None:
        sid, created, token_hash, body = base.study_record(study)
        sk, tk = self._study_key(sid), self._study_token_key(token_hash)

        def tx(pipe: redis.client.Pipeline) -> None:
            owner = pipe.get(tk)
            if owner is not None and text(owner) != sid:
                raise ValidationError("study record: token_hash belongs to another study")
            old = pipe.get(sk)
            old_hash = json.loads(old).get("token_hash") if old is not None else None
            pipe.multi()
            if old_hash and old_hash != token_hash:
                pipe.delete(self._study_token_key(old_hash))  # the old link is revoked
            pipe.set(sk, body)
            pipe.set(tk, sid)
            pipe.zadd(f"{self.prefix}:studies", {sid: created})

        self._transaction(tx, sk, tk)

    @_redis_call
    def get_study(self, study_id: str) -> dict[str, Any]:
        body = self._r.get(self._study_key(study_id)) if base.is_valid_session_id(study_id) else None
        if body is None:
            raise base.study_not_found(study_id)
        return json.loads(body)

    @_redis_call
    def find_study_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        sid = self._r.get(self._study_token_key(token_hash)) if len(token_hash) == 64 else None
        if sid is None:
            return None
        body = self._r.get(self._study_key(text(sid)))
        study = json.loads(body) if body is not None else None
        return study if study is not None and study.get("token_hash") == token_hash else None

    @_redis_call
    def list_studies(self) -> list[dict[str, Any]]:
        ids = [text(i) for i in self._r.zrevrangebyscore(f"{self.prefix}:studies", "+inf", "-inf")]
        bodies = self._r.mget([self._study_key(i) for i in ids]) if ids else []
        docs = [json.loads(b) for b in bodies if b is not None]
        docs.sort(key=lambda d: (d.get("created_at_ms") or 0.0, d["id"]), reverse=True)
        return docs

    @_redis_call
    def delete_study(self, study_id: str) -> None:
        if not base.is_valid_session_id(study_id):
            raise base.study_not_found(study_id)
        sk = self._study_key(study_id)

        def tx(pipe: redis.client.Pipeline) -> None:
            old = pipe.get(sk)
            if old is None:
                raise base.study_not_found(study_id)
            pipe.multi()
            pipe.delete(
                sk, self._participants_key(study_id), self._study_token_key(json.loads(old)["token_hash"])
            )
            pipe.zrem(f"{self.prefix}:studies", study_id)

        self._transaction(tx, sk)

    @_redis_call
    def save_participant(self, study_id: str, participant: dict[str, Any]) -> None:
        pid, _, body = base.participant_record(participant)
        if not base.is_valid_session_id(study_id):
            raise base.study_not_found(study_id)
        sk = self._study_key(study_id)

        def tx(pipe: redis.client.Pipeline) -> None:  # WATCH sk: not written after a delete_study
            if not pipe.exists(sk):
                raise base.study_not_found(study_id)
            pipe.multi()
            pipe.hset(self._participants_key(study_id), pid, body)

        self._transaction(tx, sk)

    @_redis_call
    def get_participant(self, study_id: str, participant_id: str) -> dict[str, Any]:
        body = (
            self._r.hget(self._participants_key(study_id), participant_id)
            if base.is_valid_session_id(study_id)
            else None
        )
        if body is None:
            raise base.participant_not_found(study_id, participant_id)
        return json.loads(body)

    @_redis_call
    def list_participants(self, study_id: str) -> list[dict[str, Any]]:
        if not base.is_valid_session_id(study_id):
            return []
        docs = [json.loads(v) for v in self._r.hvals(self._participants_key(study_id))]
        docs.sort(key=lambda d: (d.get("created_at_ms") or 0.0, d["id"]))
        return docs

    # --- lifecycle -----------------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when Redis answers PING; False when unreachable or closed."""
        if self._closed:
            return False
        try:
            return bool(self._r.ping())
        except redis.exceptions.RedisError:
            return False

    def close(self) -> None:
        """Close the connection pool (idempotent); later calls raise ``StorageError``."""
        if not self._closed:
            self._closed = True
            self._r.close()
            self._r.connection_pool.disconnect()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
