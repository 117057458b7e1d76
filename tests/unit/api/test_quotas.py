"""Rate limits, quotas on stored totals, document sizes and the free-disk watermark (issue 20, defect 3),
on the real app (Starlette TestClient, real lifespan, real SQLite file): each reproduction of the issue
scaled down."""

from __future__ import annotations

import cv2
import numpy as np
from tests.unit.api.conftest import MakeClient
from tests.unit.api.test_calibration_rest import fitted_profile


def png(seed: int, side: int = 32) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, size=(side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_sixth_session_in_ten_seconds_is_refused_with_retry_after(make_client: MakeClient) -> None:
    with make_client(rate_limit_burst=5, rate_limit_writes_per_s=0.5) as client:
        for _ in range(5):
            assert client.post("/api/sessions", json={}).status_code == 201
        r = client.post("/api/sessions", json={})
        assert r.status_code == 429, r.text
        assert r.json()["code"] == "rate_limited"
        assert "GAZESCOPE_RATE_LIMIT_WRITES_PER_S" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= 2
        assert client.get("/api/sessions").status_code == 200  # reads are not limited
        assert len(client.get("/api/sessions").json()) == 5
        assert 'gazescope_refused_total{reason="rate_limited"} 1.0' in client.get("/metrics").text


def test_cross_site_uploads_are_rate_limited(make_client: MakeClient) -> None:
    body = {"points": [{"x": 10, "y": 20, "weight": 1}]}
    headers = {"Origin": "https://evil.example"}
    with make_client(rate_limit_burst=3, rate_limit_writes_per_s=0.1) as client:
        codes = [client.post("/upload", json=body, headers=headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429], codes
        r = client.post("/upload", json=body, headers=headers)
        assert r.headers["access-control-allow-origin"] == "*" and "retry-after" in r.headers


def test_large_uploads_are_paced_by_bytes(make_client: MakeClient) -> None:
    """Stimuli uploaded back to back: past the byte burst the next one is 429 although few requests
    were made (the issue's 50 x 15.8 MiB, scaled down)."""
    image = png(3, 128)  # ~49 KB of noise
    with make_client(rate_limit_bytes_burst=2 * len(image) + 1000, rate_limit_bytes_per_s=1024) as client:
        files = {"file": ("s.png", image, "image/png")}
        codes = [client.post("/api/stimuli", files=files).status_code for _ in range(4)]
        assert codes == [201, 201, 429, 429], codes
        r = client.post("/api/stimuli", files=files)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 10, (codes, r.headers, r.text)
        assert "GAZESCOPE_RATE_LIMIT_BYTES_PER_S" in r.json()["detail"]


def test_token_bucket_refills_at_its_rate() -> None:
    from gazescope.api.ratelimit import TokenBuckets

    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, max_keys=2, clock=lambda: now[0])
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.0
    assert buckets.take("a") == 0.5
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # another client has its own bucket
    buckets.take("c")  # a third key evicts the least recently used ("a")
    assert buckets.take("a") == 0.0
    assert buckets.take("d", cost=50) == 0.0  # a cost over the burst counts as the burst
    assert buckets.take("d", cost=1) == 0.5


def test_profile_with_a_two_megabyte_accuracy_field_is_refused(make_client: MakeClient) -> None:
    cal = fitted_profile()
    body = cal.to_dict()
    body["accuracy"] = {**body["accuracy"], "notes": "x" * 1_900_000}
    with make_client() as client:
        r = client.post("/api/profiles", json=body)
        assert r.status_code == 422, r.text[:300]
        assert r.json()["code"] == "document_too_large"
        assert "GAZESCOPE_MAX_DOCUMENT_BYTES" in r.json()["detail"]
        assert client.get("/api/profiles").json() == []
        assert client.post("/api/profiles", json=cal.to_dict()).status_code == 201


def test_profile_quota(make_client: MakeClient) -> None:
    with make_client(max_profiles=2) as client:
        for seed in range(2):
            assert client.post("/api/profiles", json=fitted_profile(seed=seed).to_dict()).status_code == 201
        r = client.post("/api/profiles", json=fitted_profile(seed=9).to_dict())
        assert r.status_code == 507, r.text
        assert r.json()["code"] == "quota_exceeded" and "GAZESCOPE_MAX_PROFILES" in r.json()["detail"]


def test_session_quota_refuses_the_fourth_until_one_is_deleted(make_client: MakeClient) -> None:
    with make_client(max_sessions=3) as client:
        ids = [client.post("/api/sessions", json={}).json()["id"] for _ in range(3)]
        r = client.post("/api/sessions", json={})
        assert r.status_code == 507, r.text
        assert r.json()["code"] == "quota_exceeded" and "GAZESCOPE_MAX_SESSIONS" in r.json()["detail"]
        assert client.delete(f"/api/sessions/{ids[0]}").status_code == 204
        assert client.post("/api/sessions", json={}).status_code == 201


def test_stimulus_quota_refuses_the_fourth(make_client: MakeClient) -> None:
    with make_client(max_stimuli=3) as client:
        for seed in range(3):
            files = {"file": ("s.png", png(seed), "image/png")}
            assert client.post("/api/stimuli", files=files).status_code == 201
        r = client.post("/api/stimuli", files={"file": ("s.png", png(7), "image/png")})
        assert r.status_code == 507, r.text
        assert "GAZESCOPE_MAX_STIMULI" in r.json()["detail"]
        assert len(client.get("/api/stimuli").json()) == 3


def test_stimulus_total_bytes_quota(make_client: MakeClient) -> None:
    first, second = png(1, 64), png(2, 64)
    with make_client(max_stimuli_total_bytes=len(first) + len(second) // 2) as client:
        assert client.post("/api/stimuli", files={"file": ("a.png", first, "image/png")}).status_code == 201
        r = client.post("/api/stimuli", files={"file": ("b.png", second, "image/png")})
        assert r.status_code == 507, r.text
        assert "GAZESCOPE_MAX_STIMULI_TOTAL_BYTES" in r.json()["detail"]


def test_writes_are_refused_below_the_free_disk_watermark(make_client: MakeClient) -> None:
    with make_client(min_free_disk_bytes=1 << 60) as client:
        r = client.post("/api/sessions", json={})
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "storage_full"
        assert "GAZESCOPE_MIN_FREE_DISK_BYTES" in r.json()["detail"]
        assert client.get("/api/sessions").status_code == 200
        assert client.delete("/api/sessions/nosuch").status_code == 404  # deletes pass, to free space
