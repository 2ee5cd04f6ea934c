"""Pages travel gzip-compressed when the browser takes it, and compression leaks no secret: both adapters."""

from __future__ import annotations

import gzip

import httpx
import pytest

from saasus_mw.csrf import mask
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import begin, error_code, parse_picker


def _raw(client: httpx.Client, method: str, url: str, accept_encoding: str) -> httpx.Response:
    """The response with its body as it travelled (httpx would otherwise decode it)."""
    with client.stream(method, url, headers={"accept-encoding": accept_encoding}) as response:
        response._content = b"".join(response.iter_raw())  # the bytes on the wire
    return response


def test_the_picker_travels_gzipped_when_the_browser_takes_it(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    _, picker_url = begin(client, standin, buyer)
    zipped = _raw(client, "GET", picker_url, "gzip, deflate, br")
    plain = _raw(client, "GET", picker_url, "identity")
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    for response in (zipped, plain):  # one URL, two representations: caches must tell them apart
        assert "accept-encoding" in response.headers["vary"].lower()
        assert int(response.headers["content-length"]) == len(response.content)
    page = gzip.decompress(zipped.content).decode()
    assert [o for o, _ in parse_picker(page).options] == [o for o, _ in parse_picker(plain.text).options]
    assert len(zipped.content) < len(plain.content) / 2


@pytest.mark.parametrize("accept_encoding", ["gzip", "identity", "gzip;q=0", "*"])
def test_head_carries_the_headers_get_would(client: httpx.Client, accept_encoding: str) -> None:
    url = "/callback?saasus_mw=select"  # no state cookie: the "start again" page, the same every time
    get = _raw(client, "GET", url, accept_encoding)
    head = _raw(client, "HEAD", url, accept_encoding)
    assert get.status_code == head.status_code == 400 and head.content == b""
    for name in ("content-length", "content-encoding", "vary", "content-type"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert int(get.headers["content-length"]) == len(get.content)
    assert (get.headers.get("content-encoding") == "gzip") == (accept_encoding in ("gzip", "*"))


def test_each_page_masks_the_csrf_token_afresh_and_each_mask_is_accepted(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    _, picker_url = begin(client, standin, buyer)
    first = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
    second = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
    assert first != second  # the same state, two strings: the page's size tells nothing about the token
    # Accepted: the check passes, and the choice is refused for what it is (not the buyer's tenant).
    other = client.post(picker_url, data={"csrf_token": first, "tenant_id": "not-a-tenant-of-theirs"})
    assert other.status_code == 403 and error_code(other) == "tenant_not_allowed"
    done = client.post(picker_url, data={"csrf_token": second, "tenant_id": buyer.tenants[0].id})
    assert done.status_code == 303 and len(standin.links) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda masked: masked[:-2] + ("AA" if masked[-2:] != "AA" else "BB"), id="altered"),
        pytest.param(lambda masked: mask("another-states-token-0123456789ab"), id="another-token"),
        pytest.param(lambda masked: masked[: len(masked) // 2], id="half"),
        pytest.param(lambda masked: masked + "=", id="padded"),
        pytest.param(lambda masked: "トークン", id="not-ascii"),
    ],
)
def test_a_wrong_mask_is_refused(client: httpx.Client, standin: SaaSusStandIn, buyer: User, forge: object) -> None:
    _, picker_url = begin(client, standin, buyer)
    masked = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
    response = client.post(picker_url, data={"csrf_token": forge(masked), "tenant_id": buyer.tenants[0].id})  # type: ignore[operator]
    assert response.status_code == 403 and error_code(response) == "csrf_failed"
    assert standin.links == []
