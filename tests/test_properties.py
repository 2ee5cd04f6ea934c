"""Property tests: the cookie codec and the request parsing hold for any input."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saasus_mw.flow import Flow, Request, Step
from saasus_mw.settings import Settings
from saasus_mw.state import State, StateCodec, StateError

KEYS = ["old-key-0123456789abcdef", "new-key-0123456789abcdef"]
codec = StateCodec(KEYS, max_age=900, cookie_name="s", secure=True)
field = st.text(min_size=1, max_size=300)
states = st.builds(
    State,
    registration_token=field,
    access_token=field,
    id_token=field,
    refresh_token=st.just("") | field,
    csrf_token=field,
    attempted_tenant=st.just("") | field,
    attempted_name=st.just("") | field,
    name_taken_by=st.lists(field, max_size=3).map(tuple),
)
URLSAFE = string.ascii_letters + string.digits + "-_."


def cookie_header(set_cookies: list[str]) -> str:
    return "; ".join(c.split(";", 1)[0] for c in set_cookies)


@given(states)
def test_codec_round_trips(state: State) -> None:
    assert codec.decode(cookie_header(codec.encode(state, "/callback"))) == state


@given(states)
def test_rotation_old_key_still_verifies(state: State) -> None:
    old = StateCodec(KEYS[:1], max_age=900, cookie_name="s", secure=True)
    assert codec.decode(cookie_header(old.encode(state, "/"))) == state


@given(states, st.data())
def test_any_mutation_is_refused_cleanly(state: State, data: st.DataObject) -> None:
    header = cookie_header(codec.encode(state, "/"))
    names_end = [i for i, c in enumerate(header) if c == "="]
    position = data.draw(st.integers(min_value=names_end[0] + 1, max_value=len(header) - 1))
    if header[position] in "; =":
        return
    replacement = data.draw(st.sampled_from(URLSAFE).filter(lambda c: c != header[position]))
    mutated = header[:position] + replacement + header[position + 1 :]
    try:
        decoded = codec.decode(mutated)
    except StateError:
        return
    # Base64's last character can carry unused bits: the same bytes, not a forgery.
    assert decoded == state


@given(st.text(max_size=2000))
def test_garbage_cookies_are_refused_cleanly(header: str) -> None:
    with pytest.raises(StateError):
        codec.decode(header)


@given(st.text(max_size=200), st.text(max_size=2000))
def test_routing_never_raises(method: str, query: str) -> None:
    step = FLOW.step(Request(method, "", query))
    assert step is None or isinstance(step, Step)


FLOW = Flow(
    Settings.load(
        {},
        saasus_saas_id="s",
        saasus_api_key="k",
        saasus_secret_key="x",
        saasus_base_url="http://127.0.0.1:9/v1",  # nothing listens: any SaaSus call fails fast
        timeout=0.2,
    ),
)

requests = st.builds(
    Request,
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "get", ""]),
    root_path=st.sampled_from(["", "/shop"]),
    query_string=st.text(max_size=300),
    cookie=st.none() | st.text(max_size=500),
    content_type=st.none() | st.sampled_from(["application/x-www-form-urlencoded", "text/plain", ""]) | st.text(),
    host=st.none() | st.text(max_size=50),
    origin=st.none() | st.text(max_size=50),
    sec_fetch_site=st.none() | st.text(max_size=20),
    body=st.binary(max_size=600),
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(list(Step)), requests)
def test_any_request_gets_a_page_never_an_exception(step: Step, request: Request) -> None:
    response = FLOW.handle(step, request)
    assert response.status in {200, 303, 400, 403, 405, 409, 413, 502, 504}  # never 500
    assert dict(response.headers)["content-type"] == "text/html; charset=utf-8"
