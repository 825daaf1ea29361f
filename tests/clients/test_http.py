"""The shared HTTP layer over real HTTP: a tiny scripted server answers each request with the next
scripted answer, and the tests count what reached it."""
import socket
import threading
from collections import deque
from email.utils import formatdate

import pytest
import requests
from flask import Flask, Response, request

from widget.clients.http import (CallPacer, Conflict, CursorTrail, InvalidRequest, NetworkError, RateLimited,
                                 RepeatedCursor, RetryPolicy, ServerError, retry_after_seconds, send)
from widget.sandbox.serving import free_port


class Script:
    """A server that answers request n with `answers[n]` (status, headers, body); the last one repeats."""

    def __init__(self, answers):
        self.answers, self.hits = list(answers), []
        self.app = Flask(__name__)
        self.app.add_url_rule("/<path:path>", "any", self.answer, methods=["GET", "POST", "PUT", "DELETE"])

    def answer(self, path):
        self.hits.append((request.method, path))
        status, headers, body = self.answers[min(len(self.hits) - 1, len(self.answers) - 1)]
        return Response(body, status=status, headers=headers)


@pytest.fixture
def scripted(serve):
    return lambda *answers: serve(Script(answers))


def classify(response):
    """A minimal classify, as a client passes one."""
    if response.status_code < 400:
        return None
    if response.status_code == 429:
        return RateLimited("slow down", retry_after=retry_after_seconds(response))
    if response.status_code == 409:
        return Conflict("conflict", status=409)
    if response.status_code >= 500:
        return ServerError("failed", status=response.status_code)
    return InvalidRequest("bad", status=response.status_code)


class Sleeps(list):
    """A sleep function that records the delays asked for instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)


def policy(**kwargs):
    return RetryPolicy(sleep=Sleeps(), **kwargs)


OK = (200, {}, "ok")


def test_retry_after_is_honoured_exactly(scripted):
    script = scripted((429, {"Retry-After": "7"}, ""), OK)
    retry = policy(base_delay=0.001)
    response = send(requests.Session(), "GET", f"{script.url}/x", classify, retry)
    assert response.text == "ok" and len(script.hits) == 2
    assert retry.sleep == [7.0]


def test_retry_after_http_date_form():
    response = requests.Response()
    response.headers["Retry-After"] = formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(response, now=lambda: 1_000_000) == 30.0
    response.headers["Retry-After"] = "soon"
    assert retry_after_seconds(response) is None


def test_5xx_backs_off_exponentially_then_succeeds(scripted):
    script = scripted((503, {}, ""), (500, {}, ""), (502, {}, ""), OK)
    retry = policy(base_delay=1.0, max_delay=30.0)
    assert send(requests.Session(), "GET", f"{script.url}/x", classify, retry).text == "ok"
    assert len(script.hits) == 4
    # backoff(n) = base * 2**n, slept between half and all of it (jitter)
    for attempt, slept in enumerate(retry.sleep):
        assert 2 ** attempt / 2 <= slept <= 2 ** attempt


def test_gives_up_after_the_attempts_and_raises_the_typed_error(scripted):
    script = scripted((500, {}, ""))
    retry = policy(attempts=3, base_delay=0.001)
    with pytest.raises(ServerError):
        send(requests.Session(), "GET", f"{script.url}/x", classify, retry)
    assert len(script.hits) == 3 and len(retry.sleep) == 2


def test_client_errors_are_not_retried(scripted):
    script = scripted((422, {}, ""), OK)
    with pytest.raises(InvalidRequest):
        send(requests.Session(), "GET", f"{script.url}/x", classify, policy())
    assert len(script.hits) == 1


def test_a_create_is_not_repeated_after_a_5xx_but_is_after_a_429_or_409(scripted):
    failing = scripted((500, {}, ""), OK)
    with pytest.raises(ServerError):
        send(requests.Session(), "POST", f"{failing.url}/tickets", classify, policy())
    assert len(failing.hits) == 1  # the service may have created it: never twice

    limited = scripted((429, {"Retry-After": "1"}, ""), (409, {}, ""), OK)
    assert send(requests.Session(), "POST", f"{limited.url}/tickets", classify, policy()).text == "ok"
    assert len(limited.hits) == 3

    forced = scripted((500, {}, ""), OK)  # a caller may declare a POST safe to repeat (an upsert)
    send(requests.Session(), "POST", f"{forced.url}/upsert", classify, policy(), idempotent=True)
    assert len(forced.hits) == 2


def test_a_refused_connection_is_retried_even_for_a_create():
    url = f"http://127.0.0.1:{free_port()}/tickets"  # nothing listens there
    retry = policy(attempts=3, base_delay=0.001)
    with pytest.raises(NetworkError) as raised:
        send(requests.Session(), "POST", url, classify, retry)
    assert raised.value.sent is False and len(retry.sleep) == 2


def test_timeouts_and_dropped_connections_are_retried_for_reads():
    """A raw socket server: the first connection hangs past the timeout, the second is closed without an
    answer, the third gets a real response."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted = []

    def serve():
        for n in range(3):
            conn, _ = listener.accept()
            accepted.append(conn)
            conn.recv(65536)
            if n == 1:
                conn.close()
            elif n == 2:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    retry = policy(base_delay=0.001, timeout=0.3)
    try:
        response = send(requests.Session(), "GET", f"http://127.0.0.1:{port}/x", classify, retry)
    finally:
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()
    assert response.text == "ok" and len(accepted) == 3 and len(retry.sleep) == 2

    # The same timeout on a create is not repeated: the service may have acted on it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        with pytest.raises(NetworkError) as raised:
            send(requests.Session(), "POST", f"http://127.0.0.1:{listener.getsockname()[1]}/x", classify,
                 policy(timeout=0.3))
        assert raised.value.sent is True
    finally:
        listener.close()


def test_rate_limit_without_retry_after_backs_off():
    error = RateLimited("slow down", retry_after=None)
    assert 0.25 <= RetryPolicy(base_delay=0.5).delay(0, error) <= 0.5
    assert RetryPolicy(max_delay=2).delay(0, RateLimited("x", retry_after=600)) == 8  # capped at 4 x max


def test_cursor_trail_raises_on_a_repeated_cursor():
    trail = CursorTrail()
    trail.follow("a")
    trail.follow("b")
    with pytest.raises(RepeatedCursor):
        trail.follow("a")


def test_call_pacer_allows_n_calls_per_period():
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    pacer = CallPacer(3, 60, clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(7):
        pacer.wait()
        stamps.append(now[0])
        now[0] += 1
    assert stamps == [0, 1, 2, 60, 61, 62, 120]
    assert all(later - earlier >= 60 for earlier, later in zip(stamps, stamps[3:]))


def test_call_pacer_is_shared_safely_between_threads():
    # The pacer's clock moves only by its own waits (any thread's), and the times it lets calls go at are
    # kept as it counts them: what is checked is its decisions, not when a thread happened to run next.
    now, stamps, lock = [0.0], [], threading.Lock()

    def sleep(seconds):
        with lock:
            now[0] += seconds

    class Counted(deque):
        def append(self, at):
            stamps.append(at)
            super().append(at)

    pacer = CallPacer(5, 60, clock=lambda: now[0], sleep=sleep)
    pacer.sent = Counted()
    threads = [threading.Thread(target=pacer.wait) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 12
    assert all(later - earlier >= 60 for earlier, later in zip(stamps, stamps[5:]))
