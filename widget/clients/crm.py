"""Zoho CRM API v8 client: OAuth per data centre, records, metadata, custom modules, notifications.

Built on the shared HTTP layer (`widget.clients.http`): `classify()` below turns the CRM's error
envelopes into its typed errors, `send()` retries rate limits, 5xx and network errors with back-off (a
POST only when it is safe to repeat: upserts are, inserts are not).

OAuth runs on requests-oauthlib: `authorization_url`, `exchange_code` and `refresh_token` use an
`OAuth2Session`, with a compliance hook for Zoho's token errors, which arrive as HTTP 200
(docs/outside-apis.md#crm-tokens). NB: requests-oauthlib refuses http:// URLs unless `OAUTHLIB_INSECURE_TRANSPORT=1` is
set; the app sets it for loopback sandboxes only (`widget.connections.allow_http_to_loopback_sandboxes`).

API calls do not go through an `OAuth2Session`: (a) it sends `Authorization: Bearer`, while the CRM
wants `Zoho-oauthtoken` (docs/outside-apis.md#crm-tokens); (b) the injected session, timeouts, retry policy and
concurrency bound (`_Bounded`) must apply to every call; (c) its auto-refresh is not safe when parallel
upserts all see the token expire at once. `CrmClient._request` adds the `Zoho-oauthtoken` header itself
and refreshes through the client's token keeper (`widget.clients.tokens`), once for all threads.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error
from requests_oauthlib import OAuth2Session

from .http import (TRANSIENT, AuthenticationError, InvalidRequest, NetworkError, NotFound, PermissionDenied,
                   RateLimited, RetryPolicy, ServerError, ServiceError, chunks, observe, observe_given_up, observe_retry,
                   send)
from .tokens import TokenKeeper

API_PATH = "/crm/v8"
MAX_RECORDS_PER_CALL = 100  # insert/update/upsert/delete (docs/outside-apis.md#crm-writing-records)
MAX_PER_PAGE = 200
# page/per_page reach only the first 2000 records, then page_token (docs/outside-apis.md#crm-reading-records)
DISCRETE_PAGING_LIMIT = 2000
# heavy calls (writes of more than 10 records, COQL) in flight, all editions (docs/outside-apis.md#crm-api-limits)
SUB_CONCURRENCY = 10
REFRESH_MARGIN = 60  # refresh this many seconds before the access token expires

# Concurrent calls allowed per org and app, by edition (docs/outside-apis.md#crm-api-limits, Kaizen #203).
EDITION_CONCURRENCY = {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25}


@dataclass(frozen=True)
class DataCentre:
    """Where one data centre's OAuth grants and API live."""

    accounts_server: str
    api_domain: str
    web: str = ""  # the CRM's own pages, where an admin goes back to



# Production data centres (docs/outside-apis.md#crm-data-centres). NB: Canada's accounts server is *zohocloud*.ca.
DATA_CENTRES = {
    "us": DataCentre("https://accounts.zoho.com", "https://www.zohoapis.com", "https://crm.zoho.com"),
    "eu": DataCentre("https://accounts.zoho.eu", "https://www.zohoapis.eu", "https://crm.zoho.eu"),
    "in": DataCentre("https://accounts.zoho.in", "https://www.zohoapis.in", "https://crm.zoho.in"),
    "au": DataCentre("https://accounts.zoho.com.au", "https://www.zohoapis.com.au", "https://crm.zoho.com.au"),
    "jp": DataCentre("https://accounts.zoho.jp", "https://www.zohoapis.jp", "https://crm.zoho.jp"),
    "cn": DataCentre("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn", "https://crm.zoho.com.cn"),
    "ca": DataCentre("https://accounts.zohocloud.ca", "https://www.zohoapis.ca", "https://crm.zohocloud.ca"),
    "sa": DataCentre("https://accounts.zoho.sa", "https://www.zohoapis.sa", "https://crm.zoho.sa"),
}


def sandbox_data_centres(base_url):
    """The CRM sandbox's data centres: every DC on one port, under path prefixes
    (`{base}/accounts/{dc}` and `{base}/api/{dc}`, see widget/sandbox/crm/http.py)."""
    base = base_url.rstrip("/")
    return {dc: DataCentre(f"{base}/accounts/{dc}", f"{base}/api/{dc}", base) for dc in DATA_CENTRES}


def data_centres(sandbox_url=""):
    """The DC map to use: production, or the sandbox's when `sandbox_url` is configured."""
    return sandbox_data_centres(sandbox_url) if sandbox_url else DATA_CENTRES


# ---- OAuth (the dance happens before a client exists) ---------------------------------------------

def authorization_url(accounts_server, client_id, redirect_uri, scopes, state=None, code_challenge=None):
    """The consent URL. `access_type=offline` asks for a refresh token and `prompt=consent` makes Zoho
    issue one again on re-authorization (docs/outside-apis.md#crm-oauth). With no `state`, requests-oauthlib puts a
    fresh random one in the URL. `code_challenge`: PKCE (RFC 7636, S256), which Zoho's accounts server
    supports; the code is then exchanged only with its verifier (exchange_code)."""
    # NB: Zoho scopes are comma-separated (docs/outside-apis.md#crm-oauth, docs/outside-apis.md#crm-scopes); oauthlib
    # would join a list with spaces, and passes a string through as it is.
    oauth = OAuth2Session(client_id, redirect_uri=redirect_uri, scope=",".join(scopes))
    pkce = {"code_challenge": code_challenge, "code_challenge_method": "S256"} if code_challenge else {}
    url, _ = oauth.authorization_url(f"{accounts_server.rstrip('/')}/oauth/v2/auth", state=state,
                                     access_type="offline", prompt="consent", **pkce)
    return url


def known_accounts_server(accounts_server, centres=DATA_CENTRES):
    """The DC whose accounts server is `accounts_server`, or raise. The redirect's `accounts-server`
    comes from the browser: our client secret must never be posted to a server we don't know."""
    wanted = accounts_server.rstrip("/").lower()
    for dc, centre in centres.items():
        if centre.accounts_server.lower() == wanted:
            return dc
    raise InvalidRequest(f"unknown accounts server {accounts_server!r}", code="UNKNOWN_ACCOUNTS_SERVER")


def exchange_code(session, accounts_server, code, client_id, client_secret, redirect_uri, policy=None,
                  code_verifier=None):
    """Trade the redirect's `code` for tokens on the accounts server the redirect named
    (docs/outside-apis.md#crm-oauth). Returns the token dict (`access_token`, `refresh_token`, `api_domain`,
    `expires_at`, ...). `code_verifier`: the PKCE verifier when the authorization asked with a `code_challenge`.
    Retried only when throttled ("Access Denied": nothing was done); a code is one-time, so a 5xx or
    a lost answer is not retried."""
    policy = policy or RetryPolicy()
    oauth = _oauth_session(session, client_id, redirect_uri=redirect_uri)
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    return _token_call(lambda: oauth.fetch_token(
        _token_url(accounts_server), code=code, client_secret=client_secret, include_client_id=True,
        timeout=policy.timeout, **extra), policy, retry_on=(RateLimited,))


def refresh_token(session, accounts_server, token, client_id, client_secret, policy=None):
    """A new access token for `token`, retried on throttling, 5xx and network errors (a refresh only
    adds an access token, docs/outside-apis.md#crm-tokens). NB: Zoho's refresh answer carries no refresh token
    (docs/outside-apis.md#crm-tokens); requests-oauthlib keeps the old one in the returned dict."""
    policy = policy or RetryPolicy()
    oauth = _oauth_session(session, client_id)
    return _token_call(lambda: oauth.refresh_token(
        _token_url(accounts_server), refresh_token=token["refresh_token"], timeout=policy.timeout,
        client_id=client_id, client_secret=client_secret), policy, retry_on=TRANSIENT)


def revoke_refresh_token(session, accounts_server, refresh_token_value, policy=None):
    """Revoke a refresh token (and its access tokens) on its accounts server (docs/outside-apis.md#crm-oauth). Not an
    OAuth2Session feature; a plain call. NB: revoking twice answers `invalid_token`, so a 5xx is not retried."""
    send(session, "POST", f"{accounts_server.rstrip('/')}/oauth/v2/token/revoke", classify_token_response,
         policy, service="crm", params={"token": refresh_token_value})


def _token_url(accounts_server):
    return f"{accounts_server.rstrip('/')}/oauth/v2/token"


def _oauth_session(session, client_id, redirect_uri=None):
    """An OAuth2Session for one token call, over the injected session's transport adapters (its
    connection pools). No `scope`: Zoho answers space-separated scopes to our comma-separated request,
    which oauthlib would otherwise raise as a changed scope (a `Warning`)."""
    oauth = OAuth2Session(client_id, redirect_uri=redirect_uri)
    for prefix, adapter in session.adapters.items():
        oauth.mount(prefix, adapter)
    for kind in ("access_token_response", "refresh_token_response"):
        oauth.register_compliance_hook(kind, _raise_for_token_error)
    return oauth


def _raise_for_token_error(response):
    """Compliance hook: typed errors for the accounts server's answers before oauthlib parses them (each
    answer counted)."""
    error = classify_token_response(response)
    observe("crm", "oauth", response, error)
    if error is not None:
        raise error
    return response


def _token_call(call, policy, retry_on):
    """`call()` (a token request), retried with the policy's back-off on the `retry_on` errors."""
    for attempt in range(policy.attempts):
        try:
            return dict(call())
        except InsecureTransportError:
            raise  # http:// without OAUTHLIB_INSECURE_TRANSPORT: a configuration error, not a refused grant
        except OAuth2Error as exc:  # an answer oauthlib refuses (e.g. no access_token)
            raise AuthenticationError(f"token endpoint: {exc.error}", status=exc.status_code,
                                      code=exc.error) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            error = NetworkError(f"token endpoint: {type(exc).__name__}", timed_out=isinstance(exc, requests.Timeout))
            observe("crm", "oauth", None, error)
        except ServiceError as exc:
            error = exc
        if not isinstance(error, retry_on) or attempt == policy.attempts - 1:
            observe_given_up("crm", "oauth", "POST", error, attempt + 1)
            raise error
        observe_retry("crm", "oauth", error)
        policy.sleep(policy.delay(attempt, error))
    raise AssertionError("unreachable")


def classify_token_response(response):
    """Errors of the accounts server. NB: Zoho answers token errors with HTTP 200 and an `error` key,
    e.g. `{"error":"invalid_code"}`; throttling is also a 200, "Access Denied" (docs/outside-apis.md#crm-tokens)."""
    if response.status_code >= 500:
        return ServerError(f"accounts server answered {response.status_code}", status=response.status_code)
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if error is None and response.status_code < 400:
        return None
    description = body.get("error_description", "") if isinstance(body, dict) else ""
    message = f"accounts server: {error or response.status_code} {description}".strip()
    if error == "Access Denied" or response.status_code == 429:
        return RateLimited(message, status=response.status_code, code=error or "TOO_MANY_REQUESTS")
    return AuthenticationError(message, status=response.status_code, code=error)


# ---- classify: the CRM API's errors --------------------------------------------------------------

AUTH_CODES = {"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "INVALID_OAUTHTOKEN"}
PERMISSION_CODES = {"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"}
RATE_CODES = {"TOO_MANY_REQUESTS"}


def classify(response):
    """None for a success (2xx, 304, or a batch whose records carry their own errors), else the typed
    error for the CRM's request-level envelope `{"code","details","message","status":"error"}`
    (docs/outside-apis.md#crm-errors)."""
    status = response.status_code
    if status < 400:
        return None
    body = _json_or_none(response)
    envelope = body if isinstance(body, dict) and "code" in body else {}
    if not envelope and _is_batch_answer(body) and status < 500:
        return None  # NB: a batch where every record failed answers 400 with per-record errors
    code = envelope.get("code")
    message = envelope.get("message") or f"HTTP {status}"
    details = envelope.get("details") or {}
    text = f"{code}: {message}" if code else message
    if code in RATE_CODES or status == 429:
        # NB: no Retry-After on v8 (docs/outside-apis.md#crm-api-limits), so send() backs off exponentially.
        return RateLimited(text, status=status, code=code or "TOO_MANY_REQUESTS", body=body)
    if status >= 500:
        return ServerError(text, status=status, code=code, body=body)
    if code in AUTH_CODES:
        return AuthenticationError(text, status=status, code=code, body=body)
    if code in PERMISSION_CODES or status == 403:
        return PermissionDenied(text, status=status, code=code, body=body)
    if status == 404 or code == "INVALID_URL_PATTERN":
        return NotFound(text, status=status, code=code, body=body)
    if status == 401:
        return AuthenticationError(text, status=status, code=code, body=body)
    return InvalidRequest(text, status=status, code=code, body=body, details=details)


def _is_batch_answer(body):
    """`{"data": [{"status": ...}, ...]}` (also `watch`, `modules`): one result per element."""
    if not isinstance(body, dict):
        return False
    return any(isinstance(v, list) and v and all(isinstance(e, dict) and "status" in e for e in v)
               for v in body.values())


def _json_or_none(response):
    if response.status_code in (204, 304) or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


# ---- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordResult:
    """One record's outcome in a batch write: `ok`, the record `id`, upsert's `action`
    ("insert" | "update") and, for a failure, the CRM's `code`, `message` and `details`."""

    ok: bool
    code: str
    message: str = ""
    id: str = None
    action: str = None
    details: dict = field(default_factory=dict)

    @classmethod
    def from_answer(cls, answer):
        details = answer.get("details") or {}
        ok = answer.get("status") == "success"
        return cls(ok=ok, code=answer.get("code", ""), message=answer.get("message", ""),
                   id=details.get("id") if ok else None, action=answer.get("action"), details=details)


# ---- the client ----------------------------------------------------------------------------------

class CrmClient:
    """Calls one org's CRM API with its OAuth token; refreshes the token when it expires and never has more
    than `max_concurrency` calls in flight. The token lives in `tokens`, a token keeper
    (`widget.clients.tokens`); by default one in memory that hands each new token to `on_token`."""

    def __init__(self, session, api_domain, token, on_token=None, accounts_server=None, client_id=None,
                 client_secret=None, max_concurrency=EDITION_CONCURRENCY["free"], policy=None, tokens=None):
        self.session, self.api_domain = session, api_domain.rstrip("/")
        self.tokens = tokens or TokenKeeper(token, on_token)
        self.accounts_server, self.client_id, self.client_secret = accounts_server, client_id, client_secret
        self.max_concurrency = max_concurrency
        # daily API credits left, once the CRM starts telling (docs/outside-apis.md#crm-api-limits)
        self.credits_remaining = None
        self.policy = policy or RetryPolicy()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._heavy_slots = threading.BoundedSemaphore(min(max_concurrency, SUB_CONCURRENCY))

    @property
    def token(self):
        return self.tokens.current()

    # ---- plumbing ------------------------------------------------------------------------------
    def url(self, path):
        return f"{self.api_domain}{API_PATH}/{path.lstrip('/')}"

    def _request(self, method, path, heavy=False, idempotent=None, extra_headers=None, **kwargs):
        """One API call: fresh token, `Zoho-oauthtoken` header, a concurrency slot per attempt;
        on INVALID_TOKEN refresh and retry once. Returns the parsed JSON body (None for 204/304).
        `idempotent`: as `send()` takes it (None: by method)."""
        self._refresh_if_expiring()
        for attempt in range(2):
            access_token = self.token["access_token"]
            headers = {**(extra_headers or {}), "Authorization": f"Zoho-oauthtoken {access_token}"}
            try:
                response = send(_Bounded(self.session, self._semaphores(heavy)), method, self.url(path),
                                classify, self.policy, idempotent=idempotent, service="crm", headers=headers,
                                **kwargs)
                # NB: `X-API-CREDITS-REMAINING` appears only once half the day's credits are used [2nd]
                # (docs/outside-apis.md#crm-api-limits).
                if "X-API-CREDITS-REMAINING" in response.headers:
                    self.credits_remaining = int(response.headers["X-API-CREDITS-REMAINING"])
                return _json_or_none(response)
            except AuthenticationError as error:
                if attempt or error.code != "INVALID_TOKEN" or not self._can_refresh():
                    raise
                self._refresh(stale=access_token)

    def _semaphores(self, heavy):
        # Always acquired in the same order (heavy first), so two kinds of call cannot deadlock.
        return (self._heavy_slots, self._slots) if heavy else (self._slots,)

    def _can_refresh(self):
        return bool(self.accounts_server and self.client_id and self.token.get("refresh_token"))

    def _refresh_if_expiring(self):
        expires_at = self.token.get("expires_at")
        if expires_at is not None and expires_at - REFRESH_MARGIN <= time.time() and self._can_refresh():
            self._refresh(stale=self.token["access_token"])

    def _refresh(self, stale):
        """Refresh once for all threads that saw `stale` fail; the others reuse the new token."""
        self.tokens.refresh(stale, self._fetch_token)

    def _fetch_token(self, token):
        # Zoho's answer has no refresh token nor anything else the grant carries: keep what it does not replace.
        return {**token, **refresh_token(self.session, self.accounts_server, token, self.client_id,
                                         self.client_secret, self.policy)}

    def _pages(self, path, params, key="data", per_page=MAX_PER_PAGE, page_token=True, headers=None,
               tokens_only=False, discrete_limit=DISCRETE_PAGING_LIMIT):
        """Items of every page: `page` for the first 2000 records, then `page_token`
        (docs/outside-apis.md#crm-reading-records). Stops on 204 (no content) or `more_records: false`; raises on a
        repeated page token. `tokens_only`: follow `next_page_token` from the first page on (it continues after the last
        record served, so records that move while being read, e.g. sorted by Modified_Time, shift no page).
        `discrete_limit`: how far `page` reaches (None: no limit documented)."""
        params = {**params, "per_page": per_page, "page": 1}
        seen_tokens = set()
        while True:
            body = self._request("GET", path, params=params, extra_headers=headers)
            if not body:
                return  # 204 (nothing), or 304 (nothing modified since If-Modified-Since)
            yield from body.get(key, [])
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            if not tokens_only and "page" in params and (
                    discrete_limit is None or (params["page"] + 1) * per_page <= discrete_limit):
                params["page"] += 1
                continue
            token = info.get("next_page_token")
            if not page_token or not token:
                # search and similar stop at 2000 (LIMIT_REACHED past it, docs/outside-apis.md#crm-search-and-coql)
                return
            if token in seen_tokens:
                raise ServiceError(f"GET {path}: page token repeated", code="PAGINATION_LOOP")
            seen_tokens.add(token)
            params.pop("page", None)  # NB: page and page_token together → AMBIGUITY_DURING_PROCESSING
            params["page_token"] = token

    def _write_batches(self, method, path, records, extra=None, idempotent=None):
        """Send `records` in batches of 100, in parallel up to the concurrency limit; per-record
        results in input order. A request-level error of any batch is raised (after the others end)."""
        batches = chunks(records, MAX_RECORDS_PER_CALL)

        def write(batch):
            body = self._request(method, path, heavy=len(batch) > 10, idempotent=idempotent,
                                 json={"data": batch, **(extra or {})})
            answers = (body or {}).get("data", [])
            if len(answers) != len(batch):
                raise ServiceError(f"{method} {path}: {len(answers)} results for {len(batch)} records", body=body)
            return [RecordResult.from_answer(a) for a in answers]

        if len(batches) <= 1:
            return [result for batch in batches for result in write(batch)]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(batches))) as pool:
            futures = [pool.submit(write, batch) for batch in batches]
        return [result for future in futures for result in future.result()]

    # ---- records -------------------------------------------------------------------------------
    def list_records(self, module, fields, per_page=MAX_PER_PAGE, modified_since=None, tokens_only=False, **params):
        """Every record of `module` (a generator); `fields` is mandatory, at most 50
        (docs/outside-apis.md#crm-reading-records). `modified_since` (ISO 8601 text): only records modified after it
        (`If-Modified-Since`; a 304, an empty generator, when there are none). `tokens_only`: see `_pages`."""
        headers = {"If-Modified-Since": modified_since} if modified_since else None
        return self._pages(module, {"fields": ",".join(fields), **params}, per_page=per_page, headers=headers,
                           tokens_only=tokens_only)

    def deleted_records(self, module, modified_since=None, kind="all"):
        """Records of `module` deleted (a generator of `{"id", "type", "deleted_time", "deleted_by", ...}`),
        `kind` all | recycle | permanent; `modified_since` (ISO 8601 text): deleted after it
        (`If-Modified-Since`). Pages of 200 by `page` (the endpoint has no page_token).
        https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html"""
        headers = {"If-Modified-Since": modified_since} if modified_since else None
        return self._pages(f"{module}/deleted", {"type": kind}, headers=headers, page_token=False,
                           discrete_limit=None)

    def count_records(self, module):
        """How many records `module` holds (`{module}/actions/count`)."""
        return (self._request("GET", f"{module}/actions/count") or {}).get("count", 0)

    def get_record(self, module, record_id):
        """One record, or None when the CRM has no content for it."""
        body = self._request("GET", f"{module}/{record_id}")
        return body["data"][0] if body and body.get("data") else None

    def search_records(self, module, criteria=None, email=None, word=None, phone=None, per_page=MAX_PER_PAGE):
        """Records matching `criteria` (e.g. `(Email:equals:a@b.c)`), else email, phone or word
        (docs/outside-apis.md#crm-search-and-coql). NB: search reaches at most 2000 records and may lag behind recent
        writes; use coql() for those."""
        given = {"criteria": criteria, "email": email, "phone": phone, "word": word}
        params = {name: value for name, value in given.items() if value is not None}
        if not params:
            raise ValueError("search_records needs criteria, email, phone or word")
        return self._pages(f"{module}/search", params, per_page=per_page, page_token=False)

    def coql(self, query):
        """Rows of a COQL `select` query (docs/outside-apis.md#crm-search-and-coql); the query's LIMIT/OFFSET do the
        paging."""
        body = self._request("POST", "coql", heavy=True, json={"select_query": query})
        return body.get("data", []) if body else []

    def related_records(self, module, record_id, related_list, fields, per_page=MAX_PER_PAGE):
        """Records of a record's related list (a generator); `fields` is mandatory
        (docs/outside-apis.md#crm-related-records)."""
        return self._pages(f"{module}/{record_id}/{related_list}", {"fields": ",".join(fields)}, per_page=per_page)

    def insert_records(self, module, records, trigger=None):
        """Insert `records`; one RecordResult per record, in order. `trigger`: the automations to run
        (`["workflow", ...]`, `[]` for none); None leaves Zoho's default, all of them
        (docs/outside-apis.md#crm-writing-records). Not retried after a 5xx or a lost answer: the records may exist, and
        a repeat would duplicate them."""
        return self._write_batches("POST", module, list(records), _trigger(trigger))

    def update_records(self, module, records, trigger=None):
        """Update `records` (each with its `id`); one RecordResult per record, in order."""
        return self._write_batches("PUT", module, list(records), _trigger(trigger))

    def upsert_records(self, module, records, duplicate_check_fields, trigger=None):
        """Insert or update by `duplicate_check_fields` (system or unique fields,
        docs/outside-apis.md#crm-writing-records); one RecordResult per record in input order, `action` saying which
        happened. A POST, but safe to repeat (a repeat finds the records by those fields and updates them), so it is
        retried after a 5xx or a lost answer; a retried batch may then report `update` for records its lost first try
        inserted."""
        extra = {"duplicate_check_fields": list(duplicate_check_fields), **_trigger(trigger)}
        return self._write_batches("POST", f"{module}/upsert", list(records), extra, idempotent=True)

    def delete_records(self, module, ids):
        """Delete records by id, 100 per call; one RecordResult per id, in order
        (docs/outside-apis.md#crm-writing-records)."""
        results = []
        for batch in chunks(ids, MAX_RECORDS_PER_CALL):
            body = self._request("DELETE", module, params={"ids": ",".join(batch)})
            results += [RecordResult.from_answer(a) for a in (body or {}).get("data", [])]
        return results

    # ---- metadata ------------------------------------------------------------------------------
    def list_modules(self):
        body = self._request("GET", "settings/modules")
        return body.get("modules", []) if body else []

    def get_module(self, api_name):
        """One module's metadata, or None."""
        body = self._request("GET", f"settings/modules/{api_name}")
        return body["modules"][0] if body and body.get("modules") else None

    def create_custom_module(self, singular_label, plural_label, profile_ids, api_name=None, fields=(),
                             display_label=None):
        """Create a custom module (v8 create-custom-module-api); returns the answer's details (`id`, and
        `api_name` from the sandbox). `fields` are extra field definitions, as `settings/fields` takes them;
        `display_label` names the record-name field (`display_field`)."""
        module = {"singular_label": singular_label, "plural_label": plural_label,
                  "profiles": [{"id": pid} for pid in profile_ids]}
        if api_name:
            module["api_name"] = api_name
        if display_label:
            module["display_field"] = {"field_label": display_label}
        if fields:
            module["fields"] = list(fields)
        body = self._request("POST", "settings/modules", json={"modules": [module]})
        return _single_answer(body, "modules", "create custom module").get("details", {})

    def delete_custom_module(self, api_name):
        """Delete a custom module and its records. NB: Zoho documents no public delete for modules (the
        OAS has none; docs/outside-apis.md#crm-extensions says an extension's modules go with its uninstall); this is
        the sandbox's `DELETE settings/modules/{api_name}`, which the uninstall flow of docs/architecture.md#uninstall
        relies on."""
        body = self._request("DELETE", f"settings/modules/{api_name}")
        return _single_answer(body, "modules", "delete custom module").get("details", {})

    def create_fields(self, module, fields):
        """Add custom fields to `module` (`POST settings/fields?module=`); one RecordResult per field,
        in order (a batch answer: 201, 207 or 400 with per-field errors)."""
        body = self._request("POST", "settings/fields", params={"module": module}, json={"fields": list(fields)})
        return [RecordResult.from_answer(a) for a in (body or {}).get("fields", [])]

    def list_fields(self, module):
        body = self._request("GET", "settings/fields", params={"module": module})
        return body.get("fields", []) if body else []

    def related_lists(self, module):
        body = self._request("GET", "settings/related_lists", params={"module": module})
        return body.get("related_lists", []) if body else []

    # ---- users and org -------------------------------------------------------------------------
    def current_user(self):
        body = self._request("GET", "users", params={"type": "CurrentUser"})
        return body["users"][0] if body and body.get("users") else None

    def user(self, user_id):
        """One user of the org (`profile`, `role`, `status`, ...), or None when there is no such user."""
        body = self._request("GET", f"users/{user_id}")
        return body["users"][0] if body and body.get("users") else None

    def list_users(self, type="AllUsers"):
        """Every user of the org of `type` (AllUsers, ActiveUsers, AdminUsers, ...), a generator."""
        return self._pages("users", {"type": type}, key="users", page_token=False)

    def org(self):
        body = self._request("GET", "org")
        return body["org"][0] if body and body.get("org") else None

    # ---- notifications (/actions/watch, docs/outside-apis.md#crm-notifications) --------------------------------------
    def enable_watch(self, channel_id, events, notify_url, token=None, channel_expiry=None,
                     return_affected_field_values=True):
        """Subscribe `notify_url` to `events` (`Contacts.create`, `Deals.all`...); returns the details
        (`events` with each `channel_expiry`). NB: expiry at most one week, default one hour
        (docs/outside-apis.md#crm-notifications)."""
        watch = {"channel_id": int(channel_id), "events": list(events), "notify_url": notify_url,
                 "return_affected_field_values": return_affected_field_values}
        if token:
            watch["token"] = token
        if channel_expiry:
            watch["channel_expiry"] = channel_expiry
        body = self._request("POST", "actions/watch", json={"watch": [watch]})
        return _single_answer(body, "watch", "enable watch").get("details", {})

    def list_watch(self, module=None, channel_id=None):
        params = {name: value for name, value in {"module": module, "channel_id": channel_id}.items() if value}
        body = self._request("GET", "actions/watch", params=params)
        return body.get("watch", []) if body else []

    def update_watch(self, channel_id, **changes):
        """Change a channel's specific details (`channel_expiry`, `events`, `notify_url`, `token`...)."""
        body = self._request("PATCH", "actions/watch", json={"watch": [{"channel_id": int(channel_id), **changes}]})
        return _single_answer(body, "watch", "update watch").get("details", {})

    def disable_watch(self, channel_ids):
        body = self._request("DELETE", "actions/watch", params={"channel_ids": ",".join(map(str, channel_ids))})
        return (body or {}).get("watch", [])

    # ---- the grant ------------------------------------------------------------------------------
    def revoke_refresh_token(self):
        """Revoke this client's grant (uninstall, docs/architecture.md#uninstall)."""
        revoke_refresh_token(self.session, self.accounts_server, self.token["refresh_token"], self.policy)


def _trigger(trigger):
    return {} if trigger is None else {"trigger": list(trigger)}


def _single_answer(body, key, what):
    """The one element answer of a one-element write (modules, watch); raise its error."""
    answers = (body or {}).get(key) or [{}]
    answer = answers[0]
    if answer.get("status") != "success":
        code = answer.get("code")
        raise InvalidRequest(f"{what}: {code}: {answer.get('message', '')}", code=code, body=body,
                             details=answer.get("details"))
    return answer


class _Bounded:
    """The injected session with a concurrency slot held around each request (not across back-off
    sleeps), so at most `max_concurrency` calls of this client are ever in flight
    (docs/outside-apis.md#crm-api-limits)."""

    def __init__(self, session, semaphores):
        self.session, self.semaphores = session, semaphores

    def request(self, *args, **kwargs):
        for semaphore in self.semaphores:
            semaphore.acquire()
        try:
            return self.session.request(*args, **kwargs)
        finally:
            for semaphore in reversed(self.semaphores):
                semaphore.release()

