"""The picker's ``/customers`` batches: all sent at once from one thread, over kept-alive connections.

What a buyer and an operator would notice: the right tenants marked linked whichever
batch holds them, one timeout's wait (not one per batch) when SaaSus is slow, no new
connection per picker, and no error when SaaSus closed an idle connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from saasus_mw.fanout import Answer, FanOut
from saasus_mw.fanout import Request as FanRequest
from saasus_mw.saasus import ErrorKind, SaaSus, SaaSusError
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import make_settings

BATCHES = 3  # of 100 ids each


@pytest.fixture
def member(standin: SaaSusStandIn) -> User:
    """A user in 250 tenants: three /customers batches."""
    return standin.add_user(
        email=f"member-{uuid.uuid4().hex[:8]}@example.com", tenants=[Tenant(f"Tenant {i:03}") for i in range(250)]
    )


def _ids(user: User) -> list[str]:
    return [t.id for t in user.tenants]


def test_linked_tenants_are_found_in_every_batch(standin: SaaSusStandIn, member: User) -> None:
    linked = {member.tenants[0].id, member.tenants[150].id, member.tenants[249].id}
    for tenant_id in linked:
        standin.link_customer(tenant_id)
    saasus = SaaSus(make_settings(standin))
    assert saasus.linked_tenants(_ids(member)) == linked
    asked = [c for c in standin.calls if c.endpoint == "customers"]
    assert sorted(len(c.query["tenant_ids"]) for c in asked) == [50, 100, 100]  # answered in any order
    saasus.close()


def test_pickers_reuse_the_connections_of_the_batches(
    standin: SaaSusStandIn, member: User, opened_connections: list[object]
) -> None:
    saasus = SaaSus(make_settings(standin))
    for _ in range(5):
        assert saasus.linked_tenants(_ids(member)) == set()
    assert len(opened_connections) == BATCHES  # one per batch, kept alive for the next picker
    saasus.close()


def test_a_slow_saasus_costs_one_timeout_for_all_batches(standin: SaaSusStandIn, member: User) -> None:
    standin.inject("customers", delay=3.0, times=None)
    saasus = SaaSus(make_settings(standin, timeout=0.6))
    started = time.monotonic()
    with pytest.raises(SaaSusError) as info:
        saasus.linked_tenants(_ids(member))
    waited = time.monotonic() - started
    assert info.value.kind is ErrorKind.TIMEOUT
    assert waited < 1.5, f"waited {waited:.2f} s: the batches timed out one after another (3 x 0.6 s)"
    saasus.close()


def test_connections_saasus_closed_while_idle_are_replaced(standin: SaaSusStandIn, member: User) -> None:
    saasus = SaaSus(make_settings(standin))
    assert saasus.linked_tenants(_ids(member)) == set()
    standin._server.close_connections()  # type: ignore[union-attr]  # as a load balancer's idle timeout does
    time.sleep(0.05)
    standin.link_customer(member.tenants[7].id)
    assert saasus.linked_tenants(_ids(member)) == {member.tenants[7].id}
    saasus.close()


def test_batches_from_many_threads_at_once(standin: SaaSusStandIn, member: User) -> None:
    # Pickers of several buyers at once share the kept connections: none sees another's answers.
    ids = _ids(member)
    linked = ids[::30]  # one in each window below, each window its own
    for tenant_id in linked:
        standin.link_customer(tenant_id)
    saasus = SaaSus(make_settings(standin))
    windows = [ids[k * 30 : k * 30 + 130] for k in range(8)]  # two batches each, overlapping
    results: dict[int, set[str]] = {}

    def picker(k: int) -> None:
        for _ in range(3):
            results[k] = saasus.linked_tenants(windows[k])

    threads = [threading.Thread(target=picker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {k: set(windows[k]) & set(linked) for k in range(8)}
    saasus.close()


def test_pickers_with_few_threads_open_no_connection_once_warm(
    standin: SaaSusStandIn, opened_connections: list[object]
) -> None:
    many = standin.add_user(
        email=f"many-{uuid.uuid4().hex[:8]}@example.com", tenants=[Tenant(f"T {i:04}") for i in range(1000)]
    )
    saasus = SaaSus(make_settings(standin, max_threads=2))  # ten batches, yet only two threads
    for _ in range(4):
        assert saasus.linked_tenants(_ids(many)) == set()
    assert len(opened_connections) == 10
    saasus.close()


def test_connections_that_cannot_be_made_cost_one_timeout_for_all_batches(standin: SaaSusStandIn, member: User) -> None:
    # A front end that accepts and never completes TLS: each of the three new connections times out
    # in its handshake. Opened one after another, that would be three timeouts.
    accepted: list[socket.socket] = []
    with socket.socket() as front:
        front.bind(("127.0.0.1", 0))
        front.listen(16)
        threading.Thread(
            target=lambda: [accepted.append(front.accept()[0]) for _ in range(BATCHES)], daemon=True
        ).start()
        base_url = f"https://127.0.0.1:{front.getsockname()[1]}/v1"
        saasus = SaaSus(make_settings(standin, saasus_base_url=base_url, timeout=0.6))
        started = time.monotonic()
        with pytest.raises(SaaSusError) as info:
            saasus.linked_tenants(_ids(member))
        waited = time.monotonic() - started
        saasus.close()
    for conn in accepted:
        conn.close()
    assert info.value.kind is ErrorKind.TIMEOUT
    assert waited < 1.5, f"waited {waited:.2f} s: the connections were opened one after another (3 x 0.6 s)"


def test_a_client_closed_during_a_round_keeps_no_connection(standin: SaaSusStandIn, member: User) -> None:
    saasus = SaaSus(make_settings(standin))
    assert saasus.linked_tenants(_ids(member)) == set()  # three connections kept
    standin.inject("customers", delay=0.3, times=BATCHES)
    in_flight = threading.Thread(target=saasus.linked_tenants, args=(_ids(member),))
    in_flight.start()
    time.sleep(0.1)
    saasus.close()  # while the round waits for its answers
    in_flight.join()
    assert saasus._reads._fanout._idle == []  # its connections were closed, not kept


class _Scripted:
    """A server that reads each request's head and answers with the next of ``answers``, as bytes
    (``None``: it closes the connection instead; ``hang_up``: it closes it after every answer).
    Counts the connections it accepted."""

    def __init__(self, answers: list[bytes | None], *, hang_up: bool = False) -> None:
        self.answers, self.accepted, self._hang_up = list(answers), 0, hang_up
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            while self.answers:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                try:
                    answer = self.answers.pop(0)
                except IndexError:  # closed meanwhile
                    return
                if answer is None:
                    return  # closed without an answer
                connection.sendall(answer)
                if self._hang_up:
                    return

    def close(self) -> None:
        self.answers.clear()
        self._socket.close()


def _fanout(base_url: str, timeout: float = 2.0) -> FanOut:
    return FanOut(base_url, timeout=timeout, keep=4, parallel=lambda calls: [call() for call in calls])


@contextlib.contextmanager
def _asking(server: _Scripted, timeout: float = 2.0) -> Iterator[FanOut]:
    """A fan-out to ``server``; both closed when the block ends."""
    fanout = _fanout(server.base_url, timeout)
    try:
        yield fanout
    finally:
        fanout.close()
        server.close()


_GET = FanRequest("GET", "/v1/customers?tenant_ids=a", {"Accept": "application/json"})
_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"customers": []}'


def test_an_answer_that_closes_its_connection_is_read_and_the_connection_not_kept() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    server = _Scripted([closing, _OK])
    with _asking(server) as fanout:
        (first,) = fanout.ask([_GET])
        (second,) = fanout.ask([_GET])
    assert isinstance(first, Answer) and (first.status, first.data) == (200, b"{}")
    assert isinstance(second, Answer) and second.data == b'{"customers": []}'
    assert server.accepted == 2  # SaaSus said it would close: the second round opened its own


def test_chunked_and_informational_answers_are_read_whole_and_kept() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\nX-Saasus-Trace-Id: t-0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nX-Saasus-Trace-Id: t-1\r\nTransfer-Encoding: chunked\r\n\r\n"
        # A trailer never replaces a header of the answer's head.
        b'5\r\n{"cus\r\n14\r\ntomers": [], "x": 1}\r\n0\r\nX-Saasus-Trace-Id: t-2\r\n\r\n'
    )
    server = _Scripted([chunked, _OK])
    with _asking(server) as fanout:
        (first,) = fanout.ask([_GET])
        (second,) = fanout.ask([_GET])
    assert isinstance(first, Answer) and first.data == b'{"customers": [], "x": 1}'
    assert first.headers["x-saasus-trace-id"] == "t-1"
    assert isinstance(second, Answer) and second.status == 200
    assert server.accepted == 1  # the chunked answer ended cleanly: its connection was reused


def test_an_answer_framed_by_its_end_is_read_whole_and_its_connection_not_kept() -> None:
    # No Content-Length, no chunks: the body ends where the connection does (RFC 9112, 6.3).
    server = _Scripted([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}", _OK], hang_up=True)
    with _asking(server) as fanout:
        (first,) = fanout.ask([_GET])
        assert fanout._idle == []
        (second,) = fanout.ask([_GET])
    assert isinstance(first, Answer) and (first.status, first.data) == (200, b"{}")
    assert isinstance(second, Answer) and server.accepted == 2


def test_bytes_after_an_answer_leave_its_connection_unused() -> None:
    # The answer, then what answers no request of ours: whatever follows on it cannot be trusted.
    server = _Scripted([_OK + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", _OK])
    with _asking(server) as fanout:
        (first,) = fanout.ask([_GET])
        (second,) = fanout.ask([_GET])
    assert isinstance(first, Answer) and first.data == b'{"customers": []}'
    assert isinstance(second, Answer) and second.data == b'{"customers": []}'
    assert server.accepted == 2


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(None, id="closed-without-an-answer"),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", id="closed-mid-body"),
    ],
)
def test_a_broken_answer_is_saasus_unreachable_at_once(answer: bytes | None) -> None:
    with _asking(_Scripted([answer], hang_up=True), timeout=5.0) as fanout:
        started = time.monotonic()
        (result,) = fanout.ask([_GET])
        waited = time.monotonic() - started
        assert fanout._idle == []  # the broken connection was not kept
    assert isinstance(result, Exception) and not isinstance(result, TimeoutError)
    assert waited < 1.0, f"waited {waited:.2f} s for an answer that had already ended"


def test_an_answer_that_keeps_coming_slowly_is_bounded_by_the_timeout() -> None:
    # A front end trickling a long answer, a few bytes at a time, faster than any one read times out.
    with socket.create_server(("127.0.0.1", 0)) as front:
        stop = threading.Event()

        def trickle() -> None:
            connection, _ = front.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                while not stop.is_set():
                    try:
                        connection.sendall(b"x" * 512)
                    except OSError:
                        return
                    time.sleep(0.0001)

        threading.Thread(target=trickle, daemon=True).start()
        fanout = _fanout(f"http://127.0.0.1:{front.getsockname()[1]}/v1", timeout=0.5)
        started = time.monotonic()
        (result,) = fanout.ask([_GET])
        waited = time.monotonic() - started
        stop.set()
        fanout.close()
    assert isinstance(result, TimeoutError)
    assert waited < 1.2, f"waited {waited:.2f} s on a 0.5 s timeout"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(FanRequest("GET", "/v1/x", {"X-Injected": "a\r\nSet-Cookie: b"}), id="CRLF-in-a-header"),
        pytest.param(FanRequest("GET", "/v1/x", {"X-Bad Name": "a"}), id="a-name-no-token"),
        pytest.param(FanRequest("GET", "/v1/x", {"X-Name": "caf\u00e9"}), id="a-value-outside-ASCII"),
        pytest.param(FanRequest("GET", "/v1/x HTTP/1.1\r\nX-Injected: a", {}), id="CRLF-in-the-target"),
        pytest.param(FanRequest("GET", "/v1/x?a=b c", {}), id="a-space-in-the-target"),
        pytest.param(FanRequest("GET", "/v1/\u00e9", {}), id="a-target-outside-ASCII"),
        pytest.param(FanRequest("GET /v1/y", "/v1/x", {}), id="a-method-no-token"),
        pytest.param(FanRequest("GET", "", {}), id="an-empty-target"),
        # Headers the fan-out writes itself: given as well, the request would carry two.
        pytest.param(FanRequest("GET", "/v1/x", {"host": "elsewhere"}), id="a-second-Host"),
        pytest.param(FanRequest("POST", "/v1/x", {"Content-Length": "5"}, b"abc"), id="a-second-length"),
        pytest.param(
            FanRequest("POST", "/v1/x", {"Transfer-Encoding": "chunked"}, b"abc"), id="chunked-beside-a-length"
        ),
    ],
)
def test_a_request_http_cannot_carry_fails_alone_and_leaves_no_connection_behind(bad: FanRequest) -> None:
    # Three answers: one for the first round, one for each connection of the second (with two,
    # the server hung up on whichever connection lost the race for the last answer).
    with _asking(_Scripted([_OK, _OK, _OK])) as fanout:
        good, refused = fanout.ask([_GET, bad])
        again = fanout.ask([_GET, _GET])
    assert isinstance(good, Answer) and good.status == 200
    assert isinstance(refused, Exception) and not isinstance(refused, Answer)
    # the round's connections were kept, neither leaked half-read
    assert all(isinstance(answer, Answer) for answer in again), again


def test_an_upgrade_answer_ends_the_read_instead_of_spinning() -> None:
    switching = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    upgrade = FanRequest("GET", "/v1/x", {"Connection": "Upgrade", "Upgrade": "websocket"})
    results: list[object] = []
    with _asking(_Scripted([switching])) as fanout:
        reader = threading.Thread(target=lambda: results.extend(fanout.ask([upgrade])), daemon=True)
        reader.start()
        reader.join(timeout=3)
        assert not reader.is_alive(), "the read spun after the 101"
    assert len(results) == 1 and isinstance(results[0], Exception)
