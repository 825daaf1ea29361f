"""The HTTP layer both outside-service clients share: typed errors, retries and client-side pacing.

A client passes its own `classify(response)` that turns an error response into one of the typed
errors below (each service has its own error bodies); `send()` retries what is transient —
rate limits (honouring `Retry-After`), 5xx, timeouts and dropped connections — with capped
exponential backoff and jitter, and raises the rest at once. A request that is not idempotent (a
create) is retried only when the service cannot have acted on it (429, 409, no connection made), so a
retry never duplicates a write.

Every attempt is counted (widget/ops/instruments.py) by service, endpoint family and status, with its
retries and 429s; a transient failure given up on is counted and logged, with no URL, body or message
(they may carry a person's email or a token), only what kind of call failed and how.
"""
import email.utils
import logging
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from ..ops.instruments import (OUTSIDE_CALL_SECONDS, OUTSIDE_CALLS, OUTSIDE_GIVEN_UP, OUTSIDE_RATE_LIMITED,
                               OUTSIDE_RETRIES)

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An outside service answered with an error. `code` is the service's own error string."""

    def __init__(self, message, status=None, code=None, body=None):
        super().__init__(message)
        self.message, self.status, self.code, self.body = message, status, code, body


class AuthenticationError(ServiceError):
    """Credentials were refused (expired, revoked or wrong): the admin must re-authorize."""


class RefreshRefused(AuthenticationError):
    """The service's token endpoint refused to renew a stored grant (revoked, or its refresh token
    expired): the grant is marked revoked, the installation paused, and `message` tells the admin so."""


class PermissionDenied(ServiceError):
    """The credentials are valid but not allowed to do this (scope, role, plan)."""


class NotFound(ServiceError):
    """The object does not exist."""


class InvalidRequest(ServiceError):
    """The request was refused as invalid (4xx); `details` names the fields when the service says."""

    def __init__(self, message, status=None, code=None, body=None, details=None):
        super().__init__(message, status, code, body)
        self.details = details or {}


class RateLimited(ServiceError):
    """Too many requests; `retry_after` is the wait in seconds the service asked for (or None)."""

    def __init__(self, message, status=429, code=None, body=None, retry_after=None):
        super().__init__(message, status, code, body)
        self.retry_after = retry_after


class ServerError(ServiceError):
    """The service failed (5xx)."""


class Conflict(ServiceError):
    """The service refused the write because of a concurrent change (409); trying again is safe."""


class NetworkError(ServiceError):
    """No usable answer: timeout, refused or dropped connection. `sent` is False when the request
    provably never reached the service (no connection was made)."""

    def __init__(self, message, sent=True, timed_out=False):
        super().__init__(message)
        self.sent, self.timed_out = sent, timed_out


class RepeatedCursor(ServiceError):
    """A paginated answer handed back a cursor it had given before: following it would never end."""


TRANSIENT = (RateLimited, Conflict, ServerError, NetworkError)
REASONS = ((RateLimited, "rate_limited"), (Conflict, "conflict"), (ServerError, "server_error"),
           (NetworkError, "network"))
_RESOURCE = re.compile(r"[a-z][a-z_]{0,39}")


def endpoint_family(url):
    """What a call touches, in a few words fit for a metric label: `oauth` for either service's token and
    consent endpoints; Zendesk's resource (`/api/v2/tickets/7/comments` → `tickets`); the CRM's resource
    (`coql`, `settings`, `users`, ...) or, for a module's own paths, `records` (`search` for its search).
    Never an id, a module's name or anything else a tenant chose."""
    segments = [segment.removesuffix(".json") for segment in urlsplit(url).path.split("/") if segment]
    if "oauth" in segments:
        return "oauth"
    for index, (segment, version) in enumerate(zip(segments, segments[1:])):
        rest = segments[index + 2:]
        if (segment, version) == ("api", "v2"):  # Zendesk: /api/v2/{resource}/...
            return _resource(rest)
        if segment == "crm" and re.fullmatch(r"v\d+", version):  # Zoho CRM: /crm/v8/{module or resource}/...
            if rest and rest[0][:1].isupper():  # a module's API name (Contacts, a custom module ...)
                return "search" if rest[1:2] == ["search"] else "records"
            return _resource(rest)
    return "other"


def _resource(segments):
    return segments[0] if segments and _RESOURCE.fullmatch(segments[0]) else "other"


def observe(service, endpoint, response, error, seconds=None):
    """Count one attempt: its HTTP status (`network`: no answer), its time, and a rate limit."""
    OUTSIDE_CALLS.labels(service, endpoint, "network" if response is None else str(response.status_code)).inc()
    if seconds is not None:
        OUTSIDE_CALL_SECONDS.labels(service, endpoint).observe(seconds)
    if isinstance(error, RateLimited):
        OUTSIDE_RATE_LIMITED.labels(service, endpoint).inc()


def observe_retry(service, endpoint, error):
    OUTSIDE_RETRIES.labels(service, endpoint, _reason(error)).inc()


def observe_given_up(service, endpoint, method, error, attempts):
    """A transient failure not tried again: counted and logged (an answer such as 404 or 422 is not one)."""
    if not isinstance(error, TRANSIENT):
        return
    reason = _reason(error)
    OUTSIDE_GIVEN_UP.labels(service, endpoint, reason).inc()
    log.warning("outside call given up", extra={
        "service": service, "endpoint": endpoint, "method": method, "reason": reason, "status": error.status,
        "code": error.code, "attempts": attempts})


def _reason(error):
    return next((reason for kind, reason in REASONS if isinstance(error, kind)), "other")


def chunks(items, size):
    """`items` in lists of at most `size`: a call (or a SQL `IN (...)`) takes so many at a time."""
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


def retry_after_seconds(response, now=time.time):
    """`Retry-After` as seconds: the delay-seconds form, or the HTTP-date form (RFC 9110 §10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(email.utils.parsedate_to_datetime(value).timestamp() - now(), 0.0)
    except (TypeError, ValueError):
        return None


@dataclass
class RetryPolicy:
    """How hard to try: attempts in all, backoff bounds, and the sleep function (tests may shorten it)."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0
    sleep: callable = time.sleep

    def delay(self, attempt, error):
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_delay * 4)
        backoff = min(self.max_delay, self.base_delay * 2 ** attempt)
        return backoff / 2 + random.uniform(0, backoff / 2)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def send(session, method, url, classify, policy=None, idempotent=None, service="other", **kwargs):
    """Send a request with retries. `classify(response)` returns a ServiceError for an error response
    (or None when the response is a success). Returns the successful `requests.Response`. `service`
    (`zendesk`, `crm`) labels the call's metrics.

    `idempotent` (default: by method, RFC 9110 §9.2.2) says whether repeating the request is harmless.
    When it is not, only failures the service cannot have acted on are retried: 429, 409 and a
    connection that was never made; a 5xx or a timeout after sending raises at once.
    """
    policy = policy or RetryPolicy()
    if idempotent is None:
        idempotent = method.upper() in IDEMPOTENT_METHODS
    kwargs.setdefault("timeout", policy.timeout)
    endpoint = endpoint_family(url)
    for attempt in range(policy.attempts):
        started = time.perf_counter()
        try:
            response = session.request(method, url, **kwargs)
            error = classify(response)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            response = None
            error = NetworkError(f"{method} {url}: {type(exc).__name__}", sent=not _never_sent(exc),
                                 timed_out=isinstance(exc, requests.Timeout))
        observe(service, endpoint, response, error, time.perf_counter() - started)
        if error is None:
            return response
        if not _retryable(error, idempotent) or attempt == policy.attempts - 1:
            observe_given_up(service, endpoint, method, error, attempt + 1)
            raise error
        observe_retry(service, endpoint, error)
        policy.sleep(policy.delay(attempt, error))
    raise AssertionError("unreachable")


def _retryable(error, idempotent):
    if not isinstance(error, TRANSIENT):
        return False
    if idempotent:
        return True
    return isinstance(error, (RateLimited, Conflict)) or (isinstance(error, NetworkError) and not error.sent)


def _never_sent(exc):
    """True when requests failed before a connection existed (connect timeout, refused, DNS)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class CursorTrail:
    """The cursors (or next-page URLs) one pagination has followed. Loop detection as in the Meltano
    SDK's paginator (`singer_sdk.pagination.BaseAPIPaginator`): a service that hands back a cursor twice would page
    forever."""

    def __init__(self):
        self.seen = set()

    def follow(self, cursor):
        """Record `cursor` as the next one to follow; RepeatedCursor if it was followed before."""
        if cursor in self.seen:
            raise RepeatedCursor(f"the service returned cursor {cursor!r} a second time; stopping a paging loop",
                                 code="RepeatedCursor")
        self.seen.add(cursor)


class CallPacer:
    """At most `calls` calls in any `period` seconds, across threads (client side of a rate limit)."""

    def __init__(self, calls, period=60.0, clock=time.monotonic, sleep=time.sleep):
        self.calls, self.period, self.clock, self.sleep = calls, period, clock, sleep
        self.sent = deque()
        self.lock = threading.Lock()

    def wait(self):
        """Block until one more call is allowed, then count it."""
        while True:
            with self.lock:
                now = self.clock()
                while self.sent and self.sent[0] <= now - self.period:
                    self.sent.popleft()
                if len(self.sent) < self.calls:
                    self.sent.append(now)
                    return
                pause = self.sent[0] + self.period - now
            self.sleep(pause)
