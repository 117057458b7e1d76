"""Session tokens (``gazescope.api.session_tokens``): round trip, expiry, tampering, secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gazescope.api import session_tokens as st
from gazescope.config import SecuritySettings


def settings(**kw) -> SecuritySettings:
    return SecuritySettings(**kw)


def test_round_trip_and_expiry() -> None:
    s = settings(token_secret=SecretStr("k1"))
    tok, exp = st.mint(s, "abc", ("track",), 60, now_s=1000)
    assert exp == 1060 and tok.startswith(st.PREFIX)
    got = st.verify(s, tok, now_s=1059.9)
    assert got.session_id == "abc" and got.rights == {"track"} and got.expires_at_s == 1060
    with pytest.raises(st.TokenError) as exc:
        st.verify(s, tok, now_s=1060)
    assert exc.value.expired


def test_other_secret_and_tampering_do_not_verify() -> None:
    s = settings(token_secret=SecretStr("k1"))
    tok, _ = st.mint(s, "abc", ("track",), 60, now_s=1000)
    for bad_settings, bad in (
        (settings(token_secret=SecretStr("k2")), tok),
        (s, tok.replace(".", ".x", 1)),
        (s, tok + "x"),
        (s, "gst1.."),
    ):
        with pytest.raises(st.TokenError) as exc:
            st.verify(bad_settings, bad, now_s=1001)
        assert not exc.value.expired


def test_secret_derives_from_the_api_token_and_differs_from_it() -> None:
    a = st.signing_secret(settings(api_token=SecretStr("m1")))
    assert a == st.signing_secret(settings(api_token=SecretStr("m1"))) and a != b"m1"
    assert a != st.signing_secret(settings(api_token=SecretStr("m2")))
    assert st.signing_secret(settings()) == st.signing_secret(settings())  # per process


def test_mint_refuses_unknown_rights() -> None:
    with pytest.raises(ValueError):
        st.mint(settings(), "abc", ("admin",), 60)
