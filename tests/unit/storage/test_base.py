"""The Store contract (``gazescope.storage.base.Store``), run against every implementation (SQLite file and real
Redis; see conftest.py)."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gazescope.domain import SessionInfo
from gazescope.errors import NotFoundError, SessionNotFoundError, StorageError, ValidationError
from gazescope.storage import Store

T0 = 1_700_000_000_000.0


def sess(session_id: str, created_at_ms: float = T0, **kw) -> SessionInfo:
    return SessionInfo(id=session_id, created_at_ms=created_at_ms, **kw)


def test_implements_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.ping() is True


# --- sessions ------------------------------------------------------------------------------------------


def test_create_and_get_round_trip(store: Store) -> None:
    info = sess(
        "a1b2-c3",
        user_id="alice",
        label="reading task",
        screen_w_px=1920,
        screen_h_px=1080,
        stimulus_id="page-1",
        calibration_id="cal-7",
    )
    stored = store.create_session(info)
    assert stored == info
    got = store.get_session("a1b2-c3")
    assert got == info
    assert isinstance(got.created_at_ms, float)
    assert got.status == "active" and got.sample_count == 0 and got.ended_at_ms is None


def test_create_converts_int_times(store: Store) -> None:
    stored = store.create_session(SessionInfo(id="s", created_at_ms=1234))
    assert stored.created_at_ms == 1234.0 and isinstance(stored.created_at_ms, float)
    assert store.get_session("s") == stored


def test_create_duplicate_id_is_refused(store: Store) -> None:
    store.create_session(sess("dup", label="first"))
    with pytest.raises(ValidationError, match="already exists") as err:
        store.create_session(sess("dup", label="second"))
    assert err.value.code == "session_exists"
    assert store.get_session("dup").label == "first"


@pytest.mark.parametrize(
    "info",
    [
        SessionInfo(id="", created_at_ms=T0),
        SessionInfo(id="has space", created_at_ms=T0),
        SessionInfo(id="a:b", created_at_ms=T0),
        SessionInfo(id="x" * 129, created_at_ms=T0),
        SessionInfo(id="ok", created_at_ms="yesterday"),  # type: ignore[arg-type]
        SessionInfo(id="ok", created_at_ms=math.nan),
        SessionInfo(id="ok", created_at_ms=T0, screen_w_px=1920.5),  # type: ignore[arg-type]
        SessionInfo(id="ok", created_at_ms=T0, user_id=42),  # type: ignore[arg-type]
        SessionInfo(id="ok", created_at_ms=T0, dropped_frames=-1),
        SessionInfo(id="ok", created_at_ms=T0, sample_count=5),
    ],
    ids=["empty", "space", "colon", "long", "time-str", "time-nan", "float-px", "int-user", "neg", "count"],
)
def test_create_refuses_bad_sessions(store: Store, info: SessionInfo) -> None:
    with pytest.raises(ValidationError):
        store.create_session(info)
    assert store.list_sessions() == []


@pytest.mark.parametrize("bad_id", ["nope", "", "a:b", "../etc", "*"])
def test_unknown_session_errors(store: Store, bad_id: str) -> None:
    store.create_session(sess("exists"))
    calls = [
        lambda: store.get_session(bad_id),
        lambda: store.update_session(bad_id, label="x"),
        lambda: store.append_samples(bad_id, [{"t_ms": 0.0, "frame_index": 0}]),
        lambda: store.get_samples(bad_id),
        lambda: store.get_samples(bad_id, limit=0),
        lambda: store.count_samples(bad_id),
        lambda: store.save_report(bad_id, {"x": 1}),
        lambda: store.get_report(bad_id),
        lambda: store.delete_session(bad_id),
    ]
    for call in calls:
        with pytest.raises(SessionNotFoundError, match="not found") as err:
            call()
        assert repr(bad_id) in str(err.value)
        assert err.value.code == "session_not_found"
    assert store.list_sessions() == [store.get_session("exists")]


def test_list_newest_first_with_paging(store: Store) -> None:
    for i in range(7):
        store.create_session(sess(f"s{i}", T0 + i * 1000))
    ids = [s.id for s in store.list_sessions()]
    assert ids == [f"s{i}" for i in reversed(range(7))]
    assert [s.id for s in store.list_sessions(limit=3)] == ["s6", "s5", "s4"]
    assert [s.id for s in store.list_sessions(limit=3, offset=3)] == ["s3", "s2", "s1"]
    assert [s.id for s in store.list_sessions(limit=3, offset=6)] == ["s0"]
    assert store.list_sessions(offset=7) == []
    assert store.list_sessions(limit=0) == []


def test_list_ties_are_ordered_by_id_descending(store: Store) -> None:
    for sid in ("b", "a", "c"):
        store.create_session(sess(sid, T0))
    assert [s.id for s in store.list_sessions()] == ["c", "b", "a"]


def test_list_filters(store: Store) -> None:
    rows = [
        ("a", "alice", "img1", 0),
        ("b", "bob", "img1", 1),
        ("c", "alice", "img2", 2),
        ("d", "alice", "img1", 3),
        ("e", None, None, 4),
        ("f", "bob", None, 5),
    ]
    for sid, user, stim, minute in rows:
        store.create_session(sess(sid, T0 + minute * 60_000, user_id=user, stimulus_id=stim))

    def ids(**kw) -> list[str]:
        return [s.id for s in store.list_sessions(**kw)]

    assert ids(user_id="alice") == ["d", "c", "a"]
    assert ids(user_id="bob") == ["f", "b"]
    assert ids(user_id="carol") == []
    assert ids(stimulus_id="img1") == ["d", "b", "a"]
    assert ids(user_id="alice", stimulus_id="img1") == ["d", "a"]
    assert ids(user_id="alice", stimulus_id="img1", limit=1, offset=1) == ["a"]
    assert ids(since_ms=T0 + 2 * 60_000) == ["f", "e", "d", "c"]  # inclusive
    assert ids(until_ms=T0 + 60_000) == ["b", "a"]  # inclusive
    assert ids(since_ms=T0 + 60_000, until_ms=T0 + 3 * 60_000) == ["d", "c", "b"]
    assert ids(user_id="alice", since_ms=T0 + 60_000) == ["d", "c"]
    assert ids(user_id="bob", stimulus_id="img1", until_ms=T0) == []


@pytest.mark.parametrize("kw", [{"limit": -1}, {"offset": -5}, {"limit": 1.5}, {"offset": "2"}])
def test_list_refuses_bad_paging(store: Store, kw: dict) -> None:
    with pytest.raises(ValidationError):
        store.list_sessions(**kw)


def test_update_session(store: Store) -> None:
    store.create_session(sess("u1", user_id="alice", stimulus_id="img1"))
    updated = store.update_session(
        "u1", status="ended", ended_at_ms=T0 + 5000, dropped_frames=4, label="done", user_id="bob"
    )
    assert updated.status == "ended" and updated.ended_at_ms == T0 + 5000 and updated.dropped_frames == 4
    assert store.get_session("u1") == updated
    # filters follow the change (indexes are maintained)
    assert store.list_sessions(user_id="alice") == []
    assert [s.id for s in store.list_sessions(user_id="bob")] == ["u1"]
    store.update_session("u1", stimulus_id=None)
    assert store.list_sessions(stimulus_id="img1") == []
    # created_at_ms moves the session in the time order and filters
    store.create_session(sess("u2", T0 + 10))
    assert [s.id for s in store.list_sessions()] == ["u2", "u1"]
    store.update_session("u1", created_at_ms=T0 + 20)
    assert [s.id for s in store.list_sessions()] == ["u1", "u2"]
    assert [s.id for s in store.list_sessions(user_id="bob", since_ms=T0 + 15)] == ["u1"]
    # no fields: unchanged
    assert store.update_session("u1") == store.get_session("u1")


def test_update_session_refuses_bad_fields(store: Store) -> None:
    store.create_session(sess("u1"))
    before = store.get_session("u1")
    with pytest.raises(ValueError, match="unknown session field"):
        store.update_session("u1", colour="red")
    with pytest.raises(ValueError, match="managed by the store"):
        store.update_session("u1", id="other")
    with pytest.raises(ValueError, match="managed by the store"):
        store.update_session("u1", sample_count=10)
    with pytest.raises(ValidationError, match="screen_w_px"):
        store.update_session("u1", screen_w_px="wide")
    with pytest.raises(ValidationError, match="status"):
        store.update_session("u1", status=None)
    assert store.get_session("u1") == before


# --- samples -------------------------------------------------------------------------------------------


def test_append_keeps_order_and_counts(store: Store, make_samples) -> None:
    store.create_session(sess("s"))
    first, second, third = make_samples(30), make_samples(30, first_frame=30), make_samples(7, first_frame=60)
    assert store.append_samples("s", first) == 30
    assert store.append_samples("s", second) == 60
    assert store.append_samples("s", []) == 60
    assert store.append_samples("s", third) == 67
    assert store.count_samples("s") == 67
    assert store.get_session("s").sample_count == 67
    got = store.get_samples("s")
    assert got == first + second + third
    assert [g["frame_index"] for g in got] == list(range(67))
    assert store.get_samples("s", start=25, limit=10) == (first + second)[25:35]
    assert store.get_samples("s", start=60) == third
    assert store.get_samples("s", start=67) == []
    assert store.get_samples("s", start=1000) == []
    assert store.get_samples("s", limit=0) == []


def test_samples_keep_content_and_insertion_order(store: Store) -> None:
    """Insertion order, not frame_index or t_ms order; extra keys and nested values survive."""
    store.create_session(sess("s"))
    batch = [
        {"t_ms": 50.0, "frame_index": 5, "gaze_vector": [0.1, -0.2], "note": "ü"},
        {"t_ms": 10.0, "frame_index": 1, "gaze_vector": None, "features": {"a": 1.5}},
        {"t_ms": 30, "frame_index": 3, "on_screen": True},
        {"label": "no timing"},
    ]
    store.append_samples("s", batch)
    assert store.get_samples("s") == batch


def test_append_is_idempotent_by_frame_index(store: Store, make_samples) -> None:
    """A batch retried after its commit's reply was lost (issue 9, defect 5) is not stored twice: samples
    at or below the highest stored frame_index are replays, skipped and counted as done."""
    store.create_session(sess("s"))
    first, second = make_samples(30), make_samples(30, first_frame=30)
    assert store.append_samples("s", first) == 30
    assert store.append_samples("s", first) == 30  # the whole batch again
    assert store.append_samples("s", first + second) == 60  # the lost batch with the next one
    assert store.append_samples("s", second[:5]) == 60
    assert (
        store.append_samples("s", [*make_samples(2, first_frame=60), *make_samples(2, first_frame=60)]) == 62
    )
    got = store.get_samples("s")
    assert [g["frame_index"] for g in got] == list(range(62))
    assert got == first + second + make_samples(2, first_frame=60)
    assert store.get_session("s").sample_count == 62
    untagged = [{"t_ms": 1.0, "label": "no frame index"}]
    assert store.append_samples("s", untagged) == 63
    assert store.append_samples("s", untagged) == 64  # without frame_index nothing identifies a replay
    store.delete_session("s")
    store.create_session(sess("s"))  # a new session of the same id starts afresh
    assert store.append_samples("s", first[:3]) == 3


def test_new_sessions_start_empty(store: Store) -> None:
    store.create_session(sess("s"))
    assert store.get_samples("s") == [] and store.count_samples("s") == 0


def test_large_session_reads_completely(store: Store, make_samples) -> None:
    """More samples than one Redis read chunk (5000), written in batches of 30 as the API does."""
    store.create_session(sess("big"))
    total = 0
    for b in range(6100 // 30):
        total = store.append_samples("big", make_samples(30, first_frame=b * 30))
    assert total == 6090
    got = store.get_samples("big")
    assert len(got) == 6090
    assert [g["frame_index"] for g in got] == list(range(6090))
    part = store.get_samples("big", start=4990, limit=20)
    assert [g["frame_index"] for g in part] == list(range(4990, 5010))
    assert [g["frame_index"] for g in store.get_samples("big", start=100, limit=5500)] == list(
        range(100, 5600)
    )


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        {"t_ms": math.nan, "frame_index": 3},
        {"t_ms": 1.0, "frame_index": 3, "x": math.inf},
        {"t_ms": 1.0, "frame_index": "3"},
        {"t_ms": 1.0, "frame_index": 3.0},
        {"t_ms": "1.0", "frame_index": 3},
        {"t_ms": 1.0, "frame_index": 3, "obj": object()},
    ],
    ids=["str", "nan-time", "inf-value", "str-frame", "float-frame", "str-time", "object"],
)
def test_bad_sample_rejects_whole_batch(store: Store, make_samples, bad) -> None:
    store.create_session(sess("s"))
    store.append_samples("s", make_samples(3))
    with pytest.raises(ValidationError, match="sample 5 of the batch"):
        store.append_samples("s", [*make_samples(5, first_frame=3), bad])
    assert store.count_samples("s") == 3
    assert store.get_samples("s") == make_samples(3)


def test_bad_sample_ranges(store: Store) -> None:
    store.create_session(sess("s"))
    for kw in ({"start": -1}, {"limit": -1}, {"start": 1.0}, {"limit": "5"}):
        with pytest.raises(ValidationError):
            store.get_samples("s", **kw)
    with pytest.raises(ValidationError):
        store.append_samples("s", {"t_ms": 0.0})  # type: ignore[arg-type]


def test_concurrent_appends_from_threads(store: Store, make_samples) -> None:
    """The API writes from a thread pool: counts stay exact and each batch stays contiguous."""
    for sid in ("p", "q"):
        store.create_session(sess(sid))
    barrier = threading.Barrier(4)

    def writer(worker: int) -> list[int]:
        sid = "p" if worker < 3 else "q"
        barrier.wait()
        totals = []
        for b in range(15):
            totals.append(store.append_samples(sid, make_samples(30, first_frame=worker * 1000 + b * 30)))
            store.get_samples(sid, start=max(0, totals[-1] - 30))  # reads interleave with writes
        return totals

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(writer, range(4)))
    assert store.count_samples("p") == 3 * 15 * 30
    assert store.count_samples("q") == 15 * 30
    assert store.get_session("p").sample_count == 1350
    p_totals = sorted(t for r in results[:3] for t in r)
    assert p_totals == list(range(30, 1351, 30))  # every batch got its own range
    samples = store.get_samples("p")
    for k in range(0, 1350, 30):  # each batch is contiguous and in order
        frames = [s["frame_index"] for s in samples[k : k + 30]]
        assert frames == list(range(frames[0], frames[0] + 30))
    for worker in range(3):  # each writer's batches appear in the order it wrote them
        mine = [s["frame_index"] for s in samples if worker * 1000 <= s["frame_index"] < worker * 1000 + 1000]
        assert mine == list(range(worker * 1000, worker * 1000 + 450))


# --- reports -------------------------------------------------------------------------------------------


def test_reports(store: Store) -> None:
    store.create_session(sess("r"))
    assert store.get_report("r") is None
    report = {"duration_s": 12.5, "fixations": [{"x_px": 1.0, "dwell_ms": 250}], "state": {"focused": 0.8}}
    store.save_report("r", report)
    assert store.get_report("r") == report
    store.save_report("r", {"version": 2})
    assert store.get_report("r") == {"version": 2}
    with pytest.raises(ValidationError):
        store.save_report("r", {"bad": math.nan})
    with pytest.raises(ValidationError):
        store.save_report("r", ["not", "an", "object"])  # type: ignore[arg-type]
    assert store.get_report("r") == {"version": 2}


# --- documents -----------------------------------------------------------------------------------------


def test_documents(store: Store) -> None:
    store.put_document("calibration_profiles", "alice/default", {"user_id": "alice", "mapper": "ridge"})
    store.put_document("calibration_profiles", "bob", {"user_id": "bob", "mapper": "poly", "n": 9})
    store.put_document("calibration_profiles", "alice/laptop", {"user_id": "alice", "mapper": "poly"})
    store.put_document("stimuli", "bob", {"name": "other collection"})
    assert store.get_document("calibration_profiles", "bob") == {"user_id": "bob", "mapper": "poly", "n": 9}
    assert store.list_documents("calibration_profiles") == [
        {"user_id": "alice", "mapper": "ridge"},
        {"user_id": "alice", "mapper": "poly"},
        {"user_id": "bob", "mapper": "poly", "n": 9},
    ]  # ordered by document id
    assert store.list_documents("calibration_profiles", user_id="alice", mapper="poly") == [
        {"user_id": "alice", "mapper": "poly"}
    ]
    assert store.list_documents("calibration_profiles", n=None) == [
        {"user_id": "alice", "mapper": "ridge"},
        {"user_id": "alice", "mapper": "poly"},
    ]  # a missing key equals None
    assert store.list_documents("calibration_profiles", user_id="carol") == []
    assert store.list_documents("empty_collection") == []
    store.put_document("calibration_profiles", "bob", {"user_id": "bob", "mapper": "ridge"})
    assert store.get_document("calibration_profiles", "bob") == {"user_id": "bob", "mapper": "ridge"}
    assert store.delete_document("calibration_profiles", "bob") is True
    assert store.delete_document("calibration_profiles", "bob") is False
    with pytest.raises(NotFoundError, match=r"'bob'.*'calibration_profiles'"):
        store.get_document("calibration_profiles", "bob")
    assert store.get_document("stimuli", "bob") == {"name": "other collection"}


def test_replace_document_is_a_compare_and_set(store: Store) -> None:
    store.create_session(sess("s1"))
    one, two = {"session_id": "s1", "v": 1}, {"session_id": "s1", "v": 2}
    assert store.replace_document("frame_indices", "s1", one, expected={"v": 0}) is False  # none stored
    assert store.replace_document("frame_indices", "s1", one, expected=None) is True
    assert store.replace_document("frame_indices", "s1", two, expected=None) is False  # one is stored
    assert store.replace_document("frame_indices", "s1", two, expected={"session_id": "s1", "v": 3}) is False
    assert store.get_document("frame_indices", "s1") == one
    assert store.replace_document("frame_indices", "s1", two, expected=one) is True
    assert store.get_document("frame_indices", "s1") == two
    assert store.list_documents("frame_indices", session_id="s1") == [two]  # linked like put_document's
    store.delete_session("s1")
    assert store.list_documents("frame_indices") == []


def test_documents_refuse_bad_input(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.put_document("bad collection", "x", {})
    with pytest.raises(ValidationError):
        store.put_document("a:b", "x", {})
    with pytest.raises(ValidationError):
        store.put_document("aois", "", {})
    with pytest.raises(ValidationError):
        store.put_document("aois", "x", {"v": math.inf})
    with pytest.raises(ValidationError):
        store.put_document("aois", "x", "text")  # type: ignore[arg-type]
    assert store.list_documents("aois") == []


def test_documents_linked_to_sessions(store: Store) -> None:
    for sid in ("s1", "s2"):
        store.create_session(sess(sid))
    store.put_document("aois", "a1", {"session_id": "s1", "name": "left"})
    store.put_document("aois", "a2", {"session_id": "s1", "name": "right"})
    store.put_document("aois", "a3", {"session_id": "s2", "name": "left"})
    store.put_document("events", "e1", {"session_id": "s1", "kind": "blink"})
    store.put_document("aois", "g", {"name": "left"})  # not linked
    assert [d["name"] for d in store.list_documents("aois", session_id="s1")] == ["left", "right"]
    assert store.list_documents("aois", session_id="s1", name="right") == [
        {"session_id": "s1", "name": "right"}
    ]
    assert store.list_documents("events", session_id="s2") == []
    assert len(store.list_documents("aois", name="left")) == 3
    # a document moved to another session follows it
    store.put_document("aois", "a2", {"session_id": "s2", "name": "right"})
    assert [d["name"] for d in store.list_documents("aois", session_id="s1")] == ["left"]
    assert [d["name"] for d in store.list_documents("aois", session_id="s2")] == ["right", "left"]  # a2, a3
    store.delete_session("s1")
    with pytest.raises(NotFoundError):
        store.get_document("aois", "a1")
    with pytest.raises(NotFoundError):
        store.get_document("events", "e1")
    assert store.get_document("aois", "a2") == {"session_id": "s2", "name": "right"}
    assert store.get_document("aois", "g") == {"name": "left"}
    # unlinking (session_id removed) keeps a document when its former session is deleted
    store.put_document("aois", "a3", {"name": "kept"})
    store.delete_session("s2")
    assert store.get_document("aois", "a3") == {"name": "kept"}
    with pytest.raises(NotFoundError):
        store.get_document("aois", "a2")


# --- blobs ---------------------------------------------------------------------------------------------


def test_blobs(store: Store) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    store.put_blob("stimuli/page-1.png", png)
    assert store.get_blob("stimuli/page-1.png") == png
    store.put_blob("stimuli/page-1.png", bytearray(b"\x00\x01"))
    assert store.get_blob("stimuli/page-1.png") == b"\x00\x01"
    store.put_blob("empty", b"")
    assert store.get_blob("empty") == b""
    assert store.delete_blob("stimuli/page-1.png") is True
    assert store.delete_blob("stimuli/page-1.png") is False
    with pytest.raises(NotFoundError, match="page-1"):
        store.get_blob("stimuli/page-1.png")
    with pytest.raises(ValidationError):
        store.put_blob("x", "text")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        store.put_blob("", b"x")


# --- delete --------------------------------------------------------------------------------------------


def test_delete_session_removes_every_trace(store: Store, make_samples, session_traces) -> None:
    gone = "victim-7f3a"
    kept = "bystander-19c2"
    for sid in (gone, kept):
        store.create_session(sess(sid, user_id="alice", stimulus_id="img1", calibration_id="cal-1"))
        for b in range(4):
            store.append_samples(sid, make_samples(30, first_frame=b * 30))
        store.save_report(sid, {"session_id": sid, "fixations": 12})
        store.put_document("aois", f"{sid}-aoi", {"session_id": sid, "name": "screen"})
        store.put_document("events", f"{sid}-ev", {"session_id": sid, "kind": "blink"})
    store.update_session(gone, status="ended", ended_at_ms=T0 + 1)
    assert session_traces(store, gone)  # the helper does see stored sessions

    store.delete_session(gone)

    assert session_traces(store, gone) == []
    with pytest.raises(SessionNotFoundError):
        store.get_session(gone)
    with pytest.raises(SessionNotFoundError):
        store.get_samples(gone)
    with pytest.raises(SessionNotFoundError):
        store.count_samples(gone)
    with pytest.raises(SessionNotFoundError):
        store.get_report(gone)
    with pytest.raises(SessionNotFoundError):
        store.delete_session(gone)
    assert [s.id for s in store.list_sessions()] == [kept]
    assert [s.id for s in store.list_sessions(user_id="alice", stimulus_id="img1")] == [kept]
    assert store.list_documents("aois") == [{"session_id": kept, "name": "screen"}]
    # the other session is untouched
    assert store.count_samples(kept) == 120
    assert store.get_samples(kept) == make_samples(120)
    assert store.get_report(kept) == {"session_id": kept, "fixations": 12}
    # the id can be used again, from scratch
    store.create_session(sess(gone))
    assert store.count_samples(gone) == 0 and store.get_report(gone) is None


# --- lifecycle -----------------------------------------------------------------------------------------


def test_close(store: Store) -> None:
    store.create_session(sess("c"))
    store.close()
    store.close()  # idempotent
    assert store.ping() is False
    with pytest.raises(StorageError, match="closed"):
        store.get_session("c")
