"""Zendesk Support API client: OAuth per subdomain, paged reads, incremental exports, bulk jobs, webhooks.

Built on the shared HTTP layer (`widget.clients.http`): `classify()` below turns Zendesk's error bodies
(docs/outside-apis.md#zendesk-errors) into its typed errors, and `send()` retries 429s (honouring `Retry-After`), 409s,
5xx, timeouts and dropped connections.

OAuth runs on requests-oauthlib: the session is an `OAuth2Session` that sends the token; the client
refreshes it itself, through its token keeper (`widget.clients.tokens`), never by the session's own
auto-refresh, which knows nothing of other threads or processes holding the same rotating grant.
NB: requests-oauthlib refuses plain-http URLs unless `OAUTHLIB_INSECURE_TRANSPORT=1` is set in the
environment; the local sandbox (http://127.0.0.1:PORT) needs it, production (https) never does.

The base URL comes from configuration (`ZENDESK_BASE_URL`, a template such as
`https://{subdomain}.zendesk.com`), so the sandbox and real Zendesk are reached alike (`account_base_url()`).
"""
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

import requests
from oauthlib.oauth2 import OAuth2Error, TokenExpiredError
from requests_oauthlib import OAuth2Session

from .http import (AuthenticationError, CallPacer, Conflict, CursorTrail, InvalidRequest, NetworkError, NotFound,
                   PermissionDenied, RateLimited, RetryPolicy, ServerError, ServiceError, chunks, observe,
                   observe_given_up, retry_after_seconds, send)
from .tokens import TokenKeeper

API_PATH = "/api/v2"
SCOPES = ("read", "write")
# cursor pages: "Most endpoints limit this to a maximum of 100" (docs/outside-apis.md#zendesk-pagination)
PAGE_SIZE = 100
EXPORT_PAGE_SIZE = 1000  # incremental exports: up to 1,000 a page (docs/outside-apis.md#zendesk-incremental-exports)
BULK_LIMIT = 100  # show_many ids and *_many items per call (docs/outside-apis.md#zendesk-writes-and-search)
INCREMENTAL_CALLS_PER_MINUTE = 10  # "up to 10 requests per minute" (docs/outside-apis.md#zendesk-incremental-exports)
REFRESH_MARGIN = 60  # refresh this many seconds before the access token expires
BUDGET_RESERVE = 0.05  # share of the plan's requests per minute left unused for the account's other apps
# NB: statuses are queued, working, failed, completed (docs/outside-apis.md#zendesk-job-statuses); the job status
# reference also names `killed`.
JOB_DONE = ("completed", "failed", "killed")
JOB_RESUBMITS = 2  # new jobs for one batch whose job statuses keep expiring, before giving up
SIDELOAD_KEYS = ("users", "organizations", "groups")  # sideloaded lists an export page may carry


def account_base_url(template, subdomain=None):
    """The account's base URL from the configured template: `https://{subdomain}.zendesk.com` for real
    Zendesk; a sandbox URL has no `{subdomain}` (it picks the account from the credentials)."""
    return template.format(subdomain=subdomain or "").rstrip("/")


# ---- OAuth: authorization URL and code exchange (before a client exists) -------------------------

def authorization_url(session, base_url, state=None):
    """(url, state) of the consent page (`/oauth/authorizations/new`, docs/outside-apis.md#zendesk-oauth). `session` is
    an `OAuth2Session(client_id, redirect_uri=..., scope=SCOPES)`; a fresh random `state` when None."""
    return session.authorization_url(f"{base_url}/oauth/authorizations/new", state=state)


def exchange_code(session, base_url, code, client_secret, timeout=30, code_verifier=None):
    """Trade the redirect's `code` for tokens at `{base_url}/oauth/tokens`; the session then holds them.
    Returns the token dict (`access_token`, `refresh_token`, `expires_at`, ...). `code_verifier`: the PKCE
    verifier when the authorization asked with a `code_challenge` (docs/outside-apis.md#zendesk-oauth).

    NB: the documented body is JSON (docs/outside-apis.md#zendesk-oauth); requests-oauthlib sends the RFC 6749 §4.1.3
    form body, which Zendesk's token endpoint also takes, with the client credentials in the body as
    the docs show them. Never retried: a code is single-use, and using it twice revokes its tokens.
    """
    _check_token_responses(session)
    try:
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        return dict(session.fetch_token(f"{base_url}/oauth/tokens", code=code, client_secret=client_secret,
                                        include_client_id=True, timeout=timeout, **extra))
    except OAuth2Error as exc:
        raise AuthenticationError(f"token endpoint: {exc.error}: {exc.description or ''}".strip(": "),
                                  status=exc.status_code, code=exc.error) from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _token_network_error(f"token endpoint: {type(exc).__name__}", exc) from None


def _token_network_error(message, exc):
    """A token call that got no answer: counted, given up on (never retried), and the error to raise."""
    error = NetworkError(message, timed_out=isinstance(exc, requests.Timeout))
    observe("zendesk", "oauth", None, error)
    observe_given_up("zendesk", "oauth", "POST", error, 1)
    return error


def _check_token_responses(session):
    """Typed errors for token answers that are not OAuth errors (429, 5xx), before oauthlib parses them."""
    hooks = session.compliance_hook
    for kind in ("access_token_response", "refresh_token_response"):
        if _raise_for_token_status not in hooks[kind]:
            session.register_compliance_hook(kind, _raise_for_token_status)


def _raise_for_token_status(response):
    """Each token answer counted; a 429 or 5xx, never retried here (a code or refresh token may be used
    up), is given up on at once."""
    error = None
    if response.status_code == 429:
        error = RateLimited("token endpoint: rate limited", retry_after=retry_after_seconds(response))
    elif response.status_code >= 500:
        error = ServerError(f"token endpoint answered {response.status_code}", status=response.status_code)
    observe("zendesk", "oauth", response, error)
    if error is not None:
        observe_given_up("zendesk", "oauth", "POST", error, 1)
        raise error
    return response


# ---- classify: Zendesk's error bodies ------------------------------------------------------------

def classify(response):
    """None for a success, else the typed error for Zendesk's error body (docs/outside-apis.md#zendesk-errors):
    the classic `{"error", "description", "details"?}`, OAuth's `{"error", "error_description"}`, and the
    newer services' `{"errors": [{"code", "title", "detail"}]}` (Webhooks API, offset depth)."""
    status = response.status_code
    if status < 400:
        return None
    body = _json_or_none(response)
    code, message, details = _error_parts(body, status)
    text = f"{code}: {message}" if code and message != code else message
    if details:
        text += " (" + "; ".join(_describe(field, problems) for field, problems in details.items()) + ")"
    kwargs = {"status": status, "code": code, "body": body}
    if status == 429:
        return RateLimited(text, retry_after=retry_after_seconds(response), **kwargs)
    if status >= 500:
        return ServerError(text, **kwargs)
    if status == 401:
        # "Couldn't authenticate you" (no description) or OAuth's invalid_token.
        return AuthenticationError(text, **kwargs)
    if status == 403:
        return PermissionDenied(text, **kwargs)
    if status == 404:  # RecordNotFound, InvalidEndpoint
        return NotFound(text, **kwargs)
    if status == 409:
        return Conflict(text, **kwargs)
    # 400 TooManyValues / InvalidValue, 422 RecordInvalid (+details) / invalid (search window) / InvalidValue
    return InvalidRequest(text, details=details, **kwargs)


def _error_parts(body, status):
    """(code, message, details) from any of the three error shapes; text/plain bodies give the status."""
    if not isinstance(body, dict):
        return None, f"HTTP {status}", {}
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message = " ".join(str(first[key]) for key in ("title", "detail") if first.get(key)) or f"HTTP {status}"
        return first.get("code"), message, {}
    code = body.get("error")
    # not in the classic envelope (docs/outside-apis.md#zendesk-errors); read rather than crash on a nested error object
    if isinstance(code, dict):
        code, message = code.get("title"), code.get("message")
    else:
        message = body.get("description") or body.get("error_description")
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    return code, message or code or f"HTTP {status}", details


def _describe(field, problems):
    if isinstance(problems, list):
        texts = [p.get("description", "") if isinstance(p, dict) else str(p) for p in problems]
        return f"{field}: " + ", ".join(t for t in texts if t)
    return f"{field}: {problems}"


def _json_or_none(response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


# ---- webhooks: the receiver's check ----------------------------------------------------------------

def webhook_signature(secret, timestamp, body):
    """base64(HMAC-SHA256(key=secret, msg=timestamp + body)) (docs/outside-apis.md#zendesk-webhook-signatures). NB: the
    key is the secret string's bytes as given (not base64-decoded); the order is TIMESTAMP+BODY as the current docs
    say (an older doc example verifies only as BODY+TIMESTAMP, docs/outside-apis.md#zendesk-open-points)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook_signature(secret, timestamp, body, signature):
    """True when `signature` (X-Zendesk-Webhook-Signature) signs the raw `body` bytes and `timestamp`
    (X-Zendesk-Webhook-Signature-Timestamp) with `secret`; constant-time. `body` must be the raw bytes
    received: re-serialised JSON would not match."""
    if not isinstance(body, bytes):
        raise TypeError("verify the raw request body (bytes), not a decoded or re-serialised one")
    if not (secret and timestamp and signature):
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body).encode(), signature.encode())


# ---- results ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportPage:
    """One page of an incremental export. `cursor` resumes the export right after this page (the
    `after_cursor`, or the `end_time` of a time-based export): commit it only once the page is written."""

    records: list
    cursor: object
    end_of_stream: bool
    sideloads: dict = field(default_factory=dict)  # e.g. {"users": [...], "organizations": [...]} (`include`)


class JobFailed(ServiceError):
    """A bulk job ended `failed` (or `killed`) as a whole; per-item failures are results, not this."""


class JobGone(ServiceError):
    """A bulk job's status is no longer there (404): Zendesk keeps job statuses for a limited time
    (docs/outside-apis.md#zendesk-job-statuses), and a poll after that (a paused process, a long wait under rate limits)
    finds nothing."""

    def __init__(self, job_id):
        super().__init__(f"Zendesk no longer has the status of bulk job {job_id}", code="JobGone")
        self.job_id = job_id


# ---- the client ------------------------------------------------------------------------------------

class ZendeskClient:
    """Calls one Zendesk account's API.

    `session`: a `requests.Session`; with `token` (or `tokens`, a token keeper: `widget.clients.tokens`),
    an `OAuth2Session`, whose token the client refreshes before it expires (rotated tokens go to
    `on_token`, to be persisted, when the keeper is the default one). `incremental_pacer` keeps incremental
    exports under their 10 calls a minute; share one pacer among all clients of one account.
    """

    def __init__(self, session, base_url, token=None, on_token=None, client_id=None, client_secret=None,
                 policy=None, incremental_pacer=None, job_poll_interval=1.0, tokens=None):
        self.session, self.base_url = session, base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.incremental_pacer = incremental_pacer or CallPacer(INCREMENTAL_CALLS_PER_MINUTE, 60)
        self.job_poll_interval = job_poll_interval
        self.rate_limit = None  # (requests a minute on the plan, left this minute), once Zendesk tells
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens = tokens or (TokenKeeper(token, on_token) if token is not None else None)
        if self.tokens is not None:
            if not isinstance(session, OAuth2Session):
                raise TypeError("an OAuth token needs an OAuth2Session")
            session.token = self.tokens.current()

    # ---- plumbing ------------------------------------------------------------------------------
    def url(self, path):
        return f"{self.base_url}{API_PATH}/{path.lstrip('/')}"

    def _request(self, method, path_or_url, idempotent=None, **kwargs):
        """One API call (with retries); returns the parsed JSON body (None when empty).

        The token is refreshed before it expires; if Zendesk still says `invalid_token` (its clock and
        ours differ, or the token was cut short), the client refreshes once and tries again.
        """
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url(path_or_url)
        session = self.session
        if "/incremental/" in url:
            session = _Paced(session, self.incremental_pacer)
        self._refresh_if_expiring()
        stale = self._access_token()
        try:
            response = self._send(session, method, url, idempotent, **kwargs)
        except AuthenticationError as error:
            if error.code != "invalid_token" or not self._can_refresh():
                raise
            self.refresh_token(stale)
            response = self._send(session, method, url, idempotent, **kwargs)
        self._keep_within_budget(response)
        return _json_or_none(response)

    def _keep_within_budget(self, response):
        """Stay under the plan's per-minute budget instead of running into 429s: when the account's
        requests left this minute fall to BUDGET_RESERVE of its limit (left for its agents' apps and
        other integrations), wait for the window to reset (X-Rate-Limit, ratelimit-reset:
        docs/outside-apis.md#zendesk-rate-limits)."""
        try:
            limit = int(response.headers["X-Rate-Limit"])
            remaining = int(response.headers["X-Rate-Limit-Remaining"])
        except (KeyError, ValueError):
            return
        self.rate_limit = (limit, remaining)  # as last told: the dashboard shows the plan's budget
        if remaining <= max(1, int(limit * BUDGET_RESERVE)):
            try:
                reset = float(response.headers.get("ratelimit-reset", 60))
            except ValueError:
                reset = 60.0
            self.policy.sleep(min(max(reset, 1.0), 60.0))

    def _send(self, session, method, url, idempotent, **kwargs):
        """`send()` with the keeper's current token on the session (another client of the grant, or
        another thread, may have renewed it). A token oauthlib finds expired and refuses to send is
        Zendesk's own `invalid_token`: refreshed, and the call tried again."""
        if self.tokens is not None and self.session.token.get("access_token") != self._access_token():
            self.session.token = self.tokens.current()
        try:
            return send(session, method, url, classify, self.policy, idempotent=idempotent, service="zendesk",
                        **kwargs)
        except TokenExpiredError:
            raise AuthenticationError("invalid_token: the access token expired", status=401,
                                      code="invalid_token") from None

    def _access_token(self):
        return self.tokens.current().get("access_token") if self.tokens is not None else None

    def _can_refresh(self):
        return self.tokens is not None and bool(self.tokens.current().get("refresh_token"))

    def _refresh_if_expiring(self):
        token = self.tokens.current() if self.tokens is not None else {}
        expires_at = token.get("expires_at")
        if expires_at is not None and self._can_refresh() and float(expires_at) - REFRESH_MARGIN <= time.time():
            self.refresh_token(token.get("access_token"))

    def refresh_token(self, stale_access_token=None):
        """Trade the refresh token for new tokens, once for every thread that saw `stale_access_token`
        (default: the current one) fail: Zendesk rotates the refresh token ("delete the previous access
        and refresh tokens", docs/outside-apis.md#zendesk-oauth), so a second refresh with the old one would fail. The
        session sends the new token only once the keeper has it (saved, for a stored grant). Returns the new token."""
        stale = stale_access_token if stale_access_token is not None else self._access_token()
        token = self.tokens.refresh(stale, self._fetch_token)
        self.session.token = token
        return token

    def _fetch_token(self, token):
        """The refresh call, on an OAuth2Session of its own (over the same connection pools): ours keeps
        sending the old token until the keeper hands out the new one. Never retried: the refresh token
        may already be used up."""
        oauth = OAuth2Session(self.session.client_id, scope=self.session.scope)
        for prefix, adapter in self.session.adapters.items():
            oauth.mount(prefix, adapter)
        _check_token_responses(oauth)
        try:
            # NB: client credentials in the refresh body, as the token endpoint documents them
            # (docs/outside-apis.md#zendesk-oauth).
            return dict(oauth.refresh_token(f"{self.base_url}/oauth/tokens", refresh_token=token["refresh_token"],
                                            timeout=self.policy.timeout, client_id=self.client_id,
                                            client_secret=self.client_secret))
        except OAuth2Error as exc:
            raise AuthenticationError(f"token refresh refused: {exc.error}", status=exc.status_code,
                                      code=exc.error) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _token_network_error(f"token refresh: {type(exc).__name__}", exc) from None

    # ---- pagination ---------------------------------------------------------------------------
    def _cursor_pages(self, path, key, params=None):
        """Pages of a cursor-paginated list: `page[size]`, then `links.next` while `meta.has_more`."""
        url, query, trail = self.url(path), {"page[size]": PAGE_SIZE, **(params or {})}, CursorTrail()
        while True:
            body = self._request("GET", url, params=query)
            yield body.get(key) or []
            meta, links = body.get("meta") or {}, body.get("links") or {}
            if not meta.get("has_more") or not links.get("next"):
                return
            trail.follow(meta.get("after_cursor") or links["next"])
            url, query = links["next"], None

    def _offset_pages(self, path, key, params=None):
        """Pages of an offset-paginated list: `per_page`=100, then `next_page` until null.
        NB: offset requests past the first 10,000 records are refused (400, docs/outside-apis.md#zendesk-pagination)."""
        url, query, trail = self.url(path), {"per_page": PAGE_SIZE, **(params or {})}, CursorTrail()
        while url:
            body = self._request("GET", url, params=query)
            yield body.get(key) or []
            url, query = body.get("next_page"), None
            if url:
                trail.follow(url)

    def _cursor_export(self, resource, start_time, cursor, per_page, params=None):
        """Cursor-based incremental export (docs/outside-apis.md#zendesk-incremental-exports): `start_time` first, then
        `cursor=after_cursor` until `end_of_stream`. NB: a page may be empty while `end_of_stream` is still false
        (Airbyte's manifest)."""
        path = f"incremental/{resource}/cursor.json"
        query = {"per_page": per_page, **(params or {})}
        if cursor is not None:
            query["cursor"] = cursor
        else:
            query["start_time"] = int(start_time or 0)
        trail = CursorTrail()
        if cursor is not None:
            trail.follow(cursor)
        while True:
            body = self._request("GET", path, params=query)
            after = body.get("after_cursor")
            end = bool(body.get("end_of_stream"))
            sideloads = {key: value for key, value in body.items() if key in SIDELOAD_KEYS and isinstance(value, list)}
            yield ExportPage(body.get(resource) or [], after, end, sideloads)
            if end or not after:
                return
            trail.follow(after)
            query = {"per_page": per_page, **(params or {}), "cursor": after}

    def _time_export(self, resource, key, start_time, per_page, params=None, stamp="updated_at"):
        """Time-based incremental export (docs/outside-apis.md#zendesk-incremental-exports): `start_time`, then the next
        page from `end_time`, until `end_of_stream`. Records already yielded on the previous page (same id and same
        `stamp`) are dropped: time-based pages may repeat the boundary second
        (docs/outside-apis.md#zendesk-incremental-exports, "Time-based flow")."""
        start, previous_keys = int(start_time or 0), set()
        trail = CursorTrail()
        trail.follow(start)
        while True:
            body = self._request("GET", f"incremental/{resource}.json",
                                 params={"per_page": per_page, **(params or {}), "start_time": start})
            records = drop_repeats(body.get(key) or [], previous_keys, stamp)
            end_time, end = body.get("end_time"), bool(body.get("end_of_stream"))
            yield ExportPage(records, end_time if end_time is not None else start, end)
            if end or end_time is None:
                return
            trail.follow(end_time)
            previous_keys = {(record.get("id"), record.get(stamp)) for record in body.get(key) or []}
            start = int(end_time)

    # ---- tickets -------------------------------------------------------------------------------
    def list_tickets(self):
        """Every ticket, by cursor pages of 100."""
        for page in self._cursor_pages("tickets.json", "tickets"):
            yield from page

    def list_tickets_offset(self):
        """Every ticket by offset pages (`next_page`); at most the first 10,000
        (docs/outside-apis.md#zendesk-pagination)."""
        for page in self._offset_pages("tickets.json", "tickets"):
            yield from page

    def export_tickets(self, start_time=None, cursor=None, per_page=EXPORT_PAGE_SIZE, include=None):
        """Incremental ticket export pages (cursor-based), from `cursor` or else from `start_time`
        (Unix seconds, at least a minute old; 0 = everything). Tickets are ordered by
        `generated_timestamp`, which also moves on system updates (docs/outside-apis.md#zendesk-incremental-exports).
        `include` asks for sideloads (e.g. "users,organizations"; the cursor export takes ticket sideloads,
        docs/outside-apis.md#zendesk-incremental-exports), in `page.sideloads`."""
        return self._cursor_export("tickets", start_time, cursor, per_page, {"include": include} if include else None)

    def export_ticket_events(self, start_time=0, include_comments=True, per_page=EXPORT_PAGE_SIZE):
        """Incremental ticket events (time-based only); with `include_comments`, each audit's
        `child_events` carry its Comment events (`include=comment_events`,
        docs/outside-apis.md#zendesk-incremental-exports)."""
        params = {"include": "comment_events"} if include_comments else None
        return self._time_export("ticket_events", "ticket_events", start_time, per_page, params, stamp="timestamp")

    def show_tickets(self, ids):
        """The tickets with these ids that exist (`show_many`, 100 ids a call)."""
        tickets = []
        for batch in chunks(ids, BULK_LIMIT):
            body = self._request("GET", "tickets/show_many.json", params={"ids": ",".join(map(str, batch))})
            tickets.extend(body.get("tickets") or [])
        return tickets

    def show_ticket(self, ticket_id):
        return self._request("GET", f"tickets/{ticket_id}.json")["ticket"]

    def create_ticket(self, ticket, idempotency_key=None):
        """Create a ticket from a `TicketCreateInput` dict (`comment` required); returns the ticket.
        Without `idempotency_key`, not retried after a 5xx or timeout: that could create it twice. With
        it (Zendesk's `Idempotency-Key` header: a repeat within two hours answers the ticket the first
        call created), a lost answer is retried like any idempotent call."""
        if idempotency_key is None:
            return self._request("POST", "tickets.json", json={"ticket": ticket})["ticket"]
        return self._request("POST", "tickets.json", idempotent=True, json={"ticket": ticket},
                             headers={"Idempotency-Key": idempotency_key})["ticket"]

    def update_ticket(self, ticket_id, changes):
        """Apply `changes` (e.g. status, or a `comment` to add); returns the updated ticket."""
        return self._request("PUT", f"tickets/{ticket_id}.json", json={"ticket": changes})["ticket"]

    def comment_on_ticket(self, ticket_id, comment=None, **changes):
        """Add `comment` (`{"body", "public", "author_id"?}`) and apply `changes` (e.g. status) in one
        update; returns (the ticket, the new comment or None), the comment as the update's audit tells
        it (its Comment event, stamped with the audit's time). Not retried after a 5xx or a timeout: the
        comment could be added twice."""
        ticket = dict(changes, comment=comment) if comment else dict(changes)
        body = self._request("PUT", f"tickets/{ticket_id}.json", idempotent=False, json={"ticket": ticket})
        audit = body.get("audit") or {}
        added = next((event for event in audit.get("events") or [] if event.get("type") == "Comment"), None)
        if added is not None:
            added = {"created_at": audit.get("created_at"), **added}
        return body["ticket"], added

    def list_comments(self, ticket_id):
        """A ticket's comments, oldest first, by cursor pages."""
        for page in self._cursor_pages(f"tickets/{ticket_id}/comments.json", "comments"):
            yield from page

    # ---- users and organizations -------------------------------------------------------------
    def export_users(self, start_time=None, cursor=None, per_page=EXPORT_PAGE_SIZE):
        """Incremental user export pages (cursor-based, ordered by `updated_at`,
        docs/outside-apis.md#zendesk-incremental-exports)."""
        return self._cursor_export("users", start_time, cursor, per_page)

    def export_organizations(self, start_time=0, per_page=EXPORT_PAGE_SIZE):
        """Incremental organization export pages (time-based only; `cursor` is the next `start_time`)."""
        return self._time_export("organizations", "organizations", start_time, per_page)

    def show_users(self, ids):
        """The users with these ids that exist (`users/show_many`, 100 ids a call)."""
        return self._show_many("users", ids)

    def show_organizations(self, ids):
        """The organizations with these ids that exist (`organizations/show_many`, 100 ids a call)."""
        return self._show_many("organizations", ids)

    def _show_many(self, resource, ids, param="ids"):
        found = []
        for batch in chunks(sorted(set(ids)), BULK_LIMIT):
            body = self._request("GET", f"{resource}/show_many.json", params={param: ",".join(map(str, batch))})
            found.extend(body.get(resource) or [])
        return found

    def count(self, resource):
        """How many tickets, organizations or users the account has (`{resource}/count`; Zendesk
        caches counts over 100,000 and refreshes them daily, so a large one may lag)."""
        return self._request("GET", f"{resource}/count.json")["count"]["value"]

    def count_comments(self, ticket_id):
        return self._request("GET", f"tickets/{ticket_id}/comments/count.json")["count"]["value"]

    def search_count(self, query):
        """How many results a search `query` has (`search/count`), e.g. `type:ticket organization:123`."""
        return self._request("GET", "search/count.json", params={"query": query})["count"]

    def search_ids(self, query, limit):
        """The ids of a search's first `limit` results (at most 100: one page)."""
        body = self._request("GET", "search.json", params={"query": query, "per_page": min(limit, 100)})
        return [result["id"] for result in body.get("results") or []][:limit]

    def search_users_by_email(self, email):
        """Users whose email is `email` (`users/search?query=email:...`,
        docs/outside-apis.md#zendesk-writes-and-search)."""
        users = []
        for page in self._offset_pages("users/search.json", "users", {"query": f'email:"{email}"'}):
            users.extend(page)
        return [user for user in users if (user.get("email") or "").lower() == email.lower()]

    def search_users(self, query):
        """Users matching a search `query` (e.g. `organization:123 role:end-user`; `users/search`, offset
        pages of 100, docs/outside-apis.md#zendesk-writes-and-search). NB: search reaches at most the first 10,000
        results (docs/outside-apis.md#zendesk-pagination)."""
        for page in self._offset_pages("users/search.json", "users", {"query": query}):
            yield from page

    def list_agents(self):
        """Agents and admins (the people tickets can be assigned to), by cursor pages."""
        for page in self._cursor_pages("users.json", "users", {"role[]": ["agent", "admin"]}):
            yield from page

    def organizations_page(self, size=25, after=None, name_prefix=None):
        """One page of organizations, for a picker: (organizations, the cursor of the next page or None).
        All of them by id, or those whose name starts with `name_prefix` (2 characters at least) by name
        (`organizations/autocomplete`). Cursor pages, so the 10,000th organization is as near as the first."""
        path, params = "organizations.json", {"page[size]": size}
        if name_prefix:
            path, params["name"] = "organizations/autocomplete.json", name_prefix
        if after:
            params["page[after]"] = after
        body = self._request("GET", path, params=params)
        meta = body.get("meta") or {}
        return body.get("organizations") or [], meta.get("after_cursor") if meta.get("has_more") else None

    def show_users_by_external_ids(self, external_ids):
        """The users with these external ids that exist (`users/show_many?external_ids=`, 100 a call).
        NB: the ids are sent comma-separated; an external id holding a comma cannot be asked for so."""
        return self._show_many("users", external_ids, "external_ids")

    def show_organizations_by_external_ids(self, external_ids):
        """The organizations with these external ids (`organizations/show_many?external_ids=`, 100 a call)."""
        return self._show_many("organizations", external_ids, "external_ids")

    def user_organization_ids(self, user_id):
        """The ids of every organization the user belongs to: the default one (the user's `organization_id`)
        and the others of their memberships (`users/{id}/organization_memberships`, cursor pages)."""
        return {membership["organization_id"]
                for page in self._cursor_pages(f"users/{user_id}/organization_memberships.json",
                                               "organization_memberships") for membership in page}

    def organization_named(self, name):
        """The organization whose name is `name` (Zendesk compares names case-insensitively; names are
        unique), or None: `organizations/search?name=`, one call."""
        body = self._request("GET", "organizations/search.json", params={"name": name})
        return next(iter(body.get("organizations") or []), None)

    def create_or_update_users(self, users):
        """Upsert users (matched by email or external_id, docs/outside-apis.md#zendesk-writes-and-search) in jobs of
        100, waiting for each job. Returns one result per input user, in order, as `job_results` words them: `{"index",
        "success": True, "id", "status": "Created"|"Updated"}` or `{"index", "success": False, "error", "details"}`;
        `index` is the position in `users`.
        A job whose status expired is reconciled (see `_reconcile`); users found already written then
        report "Updated"."""
        return self._bulk("users/create_or_update_many.json", "users", users, self._find_users, "Updated")

    def create_or_update_user(self, user):
        """Create a user, or update the one whose email or external_id matches
        (docs/outside-apis.md#zendesk-writes-and-search); returns it. One call, answered at once (the bulk
        `create_or_update_users` waits on a job). A repeat meets the user the first call made, so a lost answer is
        retried."""
        return self._request("POST", "users/create_or_update.json", idempotent=True, json={"user": user})["user"]

    def update_user(self, user_id, changes):
        """Apply `changes` to one user (`PUT users/{id}`); returns it."""
        return self._request("PUT", f"users/{user_id}.json", idempotent=True, json={"user": changes})["user"]

    def update_organization(self, organization_id, changes):
        """Apply `changes` to one organization (`PUT organizations/{id}`); returns it."""
        return self._request("PUT", f"organizations/{organization_id}.json", idempotent=True,
                             json={"organization": changes})["organization"]

    def create_or_update_organization(self, organization):
        """Create, or update when `id`/`external_id` matches (never by name,
        docs/outside-apis.md#zendesk-writes-and-search); returns it."""
        return self._request("POST", "organizations/create_or_update.json",
                             json={"organization": organization})["organization"]

    def create_many_organizations(self, organizations):
        """Create organizations in jobs of 100; one result per input, as create_or_update_users. After a
        reconciled job, organizations found already created report "Created"."""
        return self._bulk("organizations/create_many.json", "organizations", organizations,
                          self._find_organizations, "Created")

    def _bulk(self, path, key, items, find, found_status):
        items, results = list(items), []
        for offset, batch in zip(range(0, len(items), BULK_LIMIT), chunks(items, BULK_LIMIT)):
            for result in self._job_results(path, key, batch, find, found_status, JOB_RESUBMITS):
                results.append({**result, "index": offset + result["index"]})
        return results

    def _job_results(self, path, key, batch, find, found_status, resubmits):
        """One result per item of `batch`, in order, each with its `index` in `batch`."""
        # NB: a *_many POST is a new job each time; a 5xx is not retried, so it is never queued twice.
        job = self._request("POST", path, json={key: batch})["job_status"]
        try:
            job = self.wait_for_job(job["id"])
        except JobGone:
            if resubmits == 0:
                raise
            return self._reconcile(path, key, batch, find, found_status, resubmits - 1)
        return job_results(job)

    def _reconcile(self, path, key, batch, find, found_status, resubmits):
        """The results of a batch whose job status is gone: the job may have run, in part, or not yet.
        Items read back holding what was sent are done; the others go in a new job. Never a second
        record: users are upserted, and an organization's name and external_id are unique in Zendesk,
        so an organization sent again that exists is refused as a duplicate."""
        done = self._found_written(batch, range(len(batch)), find, found_status)
        missing = [index for index in range(len(batch)) if index not in done]
        if missing:
            again = self._job_results(path, key, [batch[i] for i in missing], find, found_status, resubmits)
            again = {missing[result["index"]]: {**result, "index": missing[result["index"]]} for result in again}
            # The gone job may still have run before the new one: its records then make the new one's
            # items duplicates, though they hold what was sent.
            taken = [index for index, result in again.items() if is_taken(result)]
            again.update(self._found_written(batch, taken, find, found_status))
            done.update(again)
        return [done[index] for index in sorted(done)]

    @staticmethod
    def _found_written(batch, indexes, find, found_status):
        """{index: result} of the items of `batch` at `indexes` that Zendesk holds as they were sent."""
        indexes = list(indexes)
        found = find([batch[i] for i in indexes]) if indexes else {}
        return {index: {"id": found[n]["id"], "status": found_status, "index": index, "success": True}
                for n, index in enumerate(indexes) if n in found and _holds(found[n], batch[index])}

    def _find_users(self, users):
        """{index: user} of the users in Zendesk: by external_id, else (none given) by email."""
        wanted = [str(u["external_id"]) for u in users if u.get("external_id")]
        by_external_id = {str(u.get("external_id") or "").lower(): u
                          for u in (self.show_users_by_external_ids(wanted) if wanted else [])}
        found = {}
        for index, user in enumerate(users):
            if user.get("external_id"):
                record = by_external_id.get(str(user["external_id"]).lower())
            else:  # one search each: the sync always sends an external_id
                record = next(iter(self.search_users_by_email(user["email"])), None) if user.get("email") else None
            if record is not None:
                found[index] = record
        return found

    def _find_organizations(self, organizations):
        """{index: organization} of the organizations in Zendesk, by external_id. Those sent without one
        are sent again: their name is unique, so that cannot create a second one."""
        wanted = [str(o["external_id"]) for o in organizations if o.get("external_id")]
        by_external_id = {str(o.get("external_id") or "").lower(): o
                          for o in (self.show_organizations_by_external_ids(wanted) if wanted else [])}
        return {index: by_external_id[str(o["external_id"]).lower()] for index, o in enumerate(organizations)
                if o.get("external_id") and str(o["external_id"]).lower() in by_external_id}

    def wait_for_job(self, job_id, timeout=600):
        """Poll a job status until it is done; returns it. JobFailed when the job as a whole failed,
        JobGone when Zendesk no longer has its status."""
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            try:
                job = self._request("GET", f"job_statuses/{job_id}.json")["job_status"]
            except NotFound:
                if polls > 1:
                    raise JobGone(job_id) from None
                # A status read right after the job was queued may reach a replica that has not seen
                # it yet: one more look before calling it gone.
                self.policy.sleep(self.job_poll_interval)
                continue
            if job.get("status") in JOB_DONE:
                if job["status"] != "completed":
                    raise JobFailed(f"job {job_id} {job['status']}: {job.get('message') or ''}".strip(),
                                    code=job["status"], body=job)
                return job
            if time.monotonic() > deadline:
                raise ServiceError(f"job {job_id} still {job.get('status')} after {timeout} s", code="JobTimeout")
            self.policy.sleep(self.job_poll_interval)

    # ---- metadata ------------------------------------------------------------------------------
    def ticket_fields(self):
        """Every ticket field (system and custom), in position order."""
        return [field for page in self._cursor_pages("ticket_fields.json", "ticket_fields") for field in page]

    def user_fields(self):
        """Every custom user field, in position order (dropdowns with their `custom_field_options`)."""
        return [field for page in self._cursor_pages("user_fields.json", "user_fields") for field in page]

    def organization_fields(self):
        """Every custom organization field, in position order."""
        return [field for page in self._cursor_pages("organization_fields.json", "organization_fields")
                for field in page]

    # ---- webhooks ------------------------------------------------------------------------------
    def create_webhook(self, name, endpoint, subscriptions, authentication=None):
        """An active, event-subscribed webhook (POST + json is required for those,
        docs/outside-apis.md#zendesk-webhooks); returns it."""
        webhook = {"name": name, "status": "active", "endpoint": endpoint, "http_method": "POST",
                   "request_format": "json", "subscriptions": list(subscriptions)}
        if authentication is not None:
            webhook["authentication"] = authentication
        return self._request("POST", "webhooks", json={"webhook": webhook})["webhook"]

    def delete_webhook(self, webhook_id):
        """Delete a webhook; False when it was already gone (uninstall may run twice)."""
        try:
            self._request("DELETE", f"webhooks/{webhook_id}")
        except NotFound:
            return False
        return True

    def webhook_signing_secret(self, webhook_id):
        """The secret deliveries are signed with (docs/outside-apis.md#zendesk-webhooks)."""
        return self._request("GET", f"webhooks/{webhook_id}/signing_secret")["signing_secret"]["secret"]

    # ---- apps (the agent sidebar: https://developer.zendesk.com/api-reference/ticketing/apps/apps/) --
    def app_installations(self):
        """The account's app installations (`id`, `app_id`, `settings`, `enabled`)."""
        return (self._request("GET", "apps/installations.json") or {}).get("installations", [])

    def install_app(self, app_id, name):
        """Install the marketplace app `app_id` into the account; returns the installation."""
        return self._request("POST", "apps/installations.json", json={"app_id": app_id, "settings": {"name": name}})

    def remove_app_installation(self, installation_id):
        """Remove an app installation; False when it was already gone (uninstall may run twice)."""
        try:
            self._request("DELETE", f"apps/installations/{installation_id}.json")
        except NotFound:
            return False
        return True

    def app_public_key(self, app_id):
        """The PEM public key the framework's signed requests of app `app_id` verify with."""
        url = self.url(f"apps/{app_id}/public_key.pem")
        self._refresh_if_expiring()
        return self._send(self.session, "GET", url, None).text

    # ---- the grant and the account -------------------------------------------------------------
    def current_token(self):
        """This OAuth token as Zendesk sees it (`expires_at`, scopes, ...; docs/outside-apis.md#zendesk-oauth)."""
        return self._request("GET", "oauth/tokens/current.json")["token"]

    def revoke_current_token(self):
        """Revoke this OAuth token (uninstall); the client cannot call the API afterwards."""
        self._request("DELETE", "oauth/tokens/current.json")

    def current_user(self):
        """The user this token acts for (`users/me`): for an OAuth grant, the person who authorized it."""
        return self._request("GET", "users/me.json")["user"]

    def account_plan(self):
        """The account's plan name (`subscription.plan_name`, e.g. "Professional"), as Airbyte's Zendesk
        source reads it from `account/subscription.json`."""
        return self._request("GET", "account/subscription.json")["subscription"]["plan_name"]


def job_results(job):
    """A finished job's results, one dict an item in one shape: `{"index", "success", "id", "status"}` for
    an item done, `{"index", "success": False, "error", "details"}` for one refused. Zendesk words items
    several ways (docs/outside-apis-zendesk-audit.md, "Job results"): `{id, index}` and `{index, id,
    account_id}` (bulk create), `{id, status: "Created"}` (organizations and users), `{id, action, status:
    "Updated", success: true}` (bulk update), `{id, action, error, details, success: false}` (the OpenAPI file's
    FailedResult), `{id, error, details, status: "Failed"}` (a real users job, whose `id` is no record's)
    and an older `errors` text. A failed item's `id` is never taken for a record's. Without `index`, an
    item's position is its index (the recorded jobs list the items in the order sent). A `results` that
    is not a list (`{"success": true}` of a permanent deletion) has no items."""
    results = job.get("results")
    if not isinstance(results, list):
        return []
    return [_job_result(item if isinstance(item, dict) else {}, position) for position, item in enumerate(results)]


def _job_result(item, position):
    index = item.get("index") if isinstance(item.get("index"), int) else position
    failed = (item.get("success") is False or str(item.get("status") or "").lower() == "failed"
              or bool(item.get("error") or item.get("errors")) or item.get("id") is None)
    if failed:
        details = item.get("details") or item.get("errors") or item.get("description") or ""
        return {"index": index, "success": False, "error": str(item.get("error") or "Failed"), "details": str(details)}
    status = item.get("status") or ("Updated" if item.get("action") == "update" else "Created")
    return {"index": index, "success": True, "id": item["id"], "status": status}


def is_taken(result):
    """A refused job item whose name, email or external id another record holds: Zendesk's code
    `DuplicateValue`, or its "has already been taken" wording under another code."""
    return not result.get("success") and (result.get("error") == "DuplicateValue"
                                          or "already been taken" in str(result.get("details") or ""))


def drop_repeats(records, previous_keys, stamp="updated_at"):
    """`records` without those whose (id, stamp) was on the previous page (a repeated boundary second)."""
    return [record for record in records if (record.get("id"), record.get(stamp)) not in previous_keys]


def _holds(record, item):
    """True when the Zendesk `record` already has every value `item` sets (of a nested object, the keys
    `item` sets). Emails and external ids compare case-insensitively, as Zendesk matches them."""
    for name, value in item.items():
        current = record.get(name)
        if isinstance(value, dict):
            if not isinstance(current, dict) or any(current.get(k) != v for k, v in value.items()):
                return False
        elif name in ("email", "external_id") and isinstance(value, str):
            if str(current or "").lower() != value.lower():
                return False
        elif current != value:
            return False
    return True


class _Paced:
    """The session with the pacer waited on before every attempt: each attempt counts against the
    service's limit, retries included."""

    def __init__(self, session, pacer):
        self.session, self.pacer = session, pacer

    def request(self, method, url, **kwargs):
        self.pacer.wait()
        return self.session.request(method, url, **kwargs)
