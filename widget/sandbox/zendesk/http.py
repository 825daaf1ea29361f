"""What every sandbox API request goes through: account selection, authentication, rate limits,
fault injection, error bodies and the response headers real Zendesk sends.

Error bodies follow docs/outside-apis.md#zendesk-errors exactly; clients (zenpy among them) branch on them.
"""
import base64
import binascii
import json
import random
import secrets
import socket
import threading
import time

from flask import Response, current_app, g, request

from .state import INCREMENTAL_RATE_LIMIT, PLAN_RATE_LIMITS, UNPAID_PLANS

UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of this help desk for further help.",
}
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
INVALID_ENDPOINT = {"error": "InvalidEndpoint", "description": "Not found"}


class ApiError(Exception):
    """Abort a request with a Zendesk-shaped JSON error body."""

    def __init__(self, status, body, headers=None):
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def not_found():
    return ApiError(404, NOT_FOUND)


def found(mapping, object_id):
    """`mapping[object_id]`, or Zendesk's 404 RecordNotFound."""
    obj = mapping.get(object_id)
    if obj is None:
        raise not_found()
    return obj


def bad_request(description, error="InvalidValue"):
    return ApiError(400, {"error": error, "description": description})


def too_many_values(description="Parameter  cannot specify more than 100 values"):
    # NB: the double space is in the real body ([ZENPY-CASS] create_many over 100).
    body = {"error": "TooManyValues", "description": description}
    if description.startswith("Parameter"):
        body["max_count"] = 100
    return ApiError(400, body)


def record_invalid(details):
    return ApiError(422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details})


def json_response(payload, status=200, headers=None):
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error):
    return json_response(error.body, error.status, error.headers)


def state():
    return current_app.config["SANDBOX_STATE"]


def base_url():
    """The URL clients reached us at; every `url`, `next_page` and link is built from it."""
    return request.host_url.rstrip("/")


def api_url(path):
    return f"{base_url()}/api/v2/{path.lstrip('/')}"


def request_json():
    """The JSON body, or a 400 like Zendesk's for unparseable input."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"})
    return data


# ---- account selection and authentication --------------------------------------------------------
def account_from_host():
    host = request.host.split(":")[0]
    label = host.split(".")[0]
    return state().accounts.get(label) if "." in host and not host.replace(".", "").isdigit() else None


def _basic_credentials():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, secret = decoded.partition(":")
    return user, secret


def authenticate():
    """Set g.account, g.user (and g.grant for OAuth). Raises ApiError 401 when credentials fail."""
    sandbox = state()
    header = request.headers.get("Authorization", "")
    host_account = account_from_host()
    candidates = [host_account] if host_account else list(sandbox.accounts.values())
    if header.startswith("Bearer "):
        token = header[7:].strip()
        for account in candidates:
            grant = account.grants.get(token)
            if grant is not None:
                if grant.expires_at <= sandbox.clock.now():
                    raise ApiError(401, INVALID_TOKEN)
                g.account, g.user, g.grant = account, account.users[grant.user_id], grant
                return
        raise ApiError(401, INVALID_TOKEN)
    credentials = _basic_credentials()
    if credentials and credentials[0].endswith("/token"):
        email = credentials[0][: -len("/token")]
        for account in candidates:
            user = account.find_user(email=email)
            if user and account.api_tokens.get(credentials[1]) and user["role"] != "end-user":
                g.account, g.user, g.grant = account, user, None
                return
    # NB: password Basic auth is deprecated and off by default in real accounts (docs/outside-apis.md#zendesk-oauth).
    raise ApiError(401, UNAUTHENTICATED)


def require_scope(kind, write):
    """OAuth scopes: `read`/`write` broad, or `<resource>:read|write` (docs/outside-apis.md#zendesk-oauth)."""
    grant = getattr(g, "grant", None)
    if grant is None:
        return
    scopes = set(grant.scope.split())
    needed = {"write" if write else "read", f"{kind}:{'write' if write else 'read'}"}
    if not scopes & needed:
        raise ApiError(403, FORBIDDEN)


def require_admin():
    if g.user["role"] != "admin":
        raise ApiError(403, FORBIDDEN)


# ---- plans, limits and faults --------------------------------------------------------------------
# NB: Zendesk documents no API answer for an expired (or free) account: "you temporarily lose the ability
# to send or receive tickets ... after that, the account becomes completely inaccessible"
# (support.zendesk.com/hc/en-us/articles/4408821139738). The sandbox answers every API call of such an
# account with the classic 403 Forbidden envelope (docs/outside-apis.md#zendesk-errors), except what a client needs to
# explain the refusal and to clean up: the subscription (its plan), the caller's own OAuth token, `users/me`, and
# deleting webhooks (uninstall).
UNPAID_DESCRIPTIONS = {
    "expired": "This account's subscription has expired. The account owner must renew it to use the API.",
    "free": "This account is on a free plan, which does not include API access.",
}


def _allowed_while_unpaid(path, method):
    rest = path[len("/api/v2/"):]
    return (rest in ("account/subscription", "users/me") or rest.startswith("oauth/tokens")
            or (method == "DELETE" and rest.startswith("webhooks/")))


def refuse_unpaid_plan(account):
    """403 for an expired or free account's API calls (see the note above)."""
    if account.plan in UNPAID_PLANS and not _allowed_while_unpaid(request.path, request.method):
        raise ApiError(403, {"error": "Forbidden", "description": UNPAID_DESCRIPTIONS[account.plan]})


class MinuteWindow:
    """Counts requests per account in the current clock minute (thread-safe: the server is threaded)."""

    def __init__(self):
        self.window, self.counts = None, {}
        self.lock = threading.Lock()

    def hit(self, key, now):
        """Count one request; returns (count in this minute, seconds until the minute resets)."""
        minute = int(now // 60)
        with self.lock:
            if minute != self.window:
                self.window, self.counts = minute, {}
            self.counts[key] = self.counts.get(key, 0) + 1
            count = self.counts[key]
        return count, max(60 - int(now % 60), 1)


def rate_limited(description, reset):
    """The 429 Zendesk sends, with Retry-After in seconds (docs/outside-apis.md#zendesk-rate-limits)."""
    return ApiError(429, {"error": "APIRateLimitExceeded", "description": description},
                    {"Retry-After": str(reset)})


def apply_limits(account, incremental):
    """Count the request against the plan's per-minute budget (and the incremental 10/min); 429 when spent.

    The budget is per account, like Zendesk's; the counters follow `state.clock`, so advancing the clock by a
    minute starts a fresh window. Switched off (POST /_sandbox/rate_limits), headers still show the limit.
    """
    sandbox = state()
    limit = PLAN_RATE_LIMITS.get(account.plan, min(PLAN_RATE_LIMITS.values()))
    g.rate_limit, g.rate_remaining, g.rate_reset = limit, limit, 60
    if not sandbox.rate_limits_enabled:
        return
    windows = current_app.config["SANDBOX_WINDOWS"]
    now = sandbox.clock.now()
    count, reset = windows["account"].hit(account.id, now)
    g.rate_remaining, g.rate_reset = max(limit - count, 0), reset
    if count > limit:
        raise rate_limited("Rate limit exceeded", reset)
    if incremental:
        count, reset = windows["incremental"].hit(account.id, now)
        if count > INCREMENTAL_RATE_LIMIT:
            # Real body (airbytehq/airbyte #11899; docs/outside-apis.md#zendesk-incremental-exports).
            raise rate_limited("Number of allowed incremental export API requests per minute exceeded", reset)


class DroppedConnection(Exception):
    """Raised to make the server close the socket without an answer."""


def drop_connection():
    """Shut the client's socket down so it sees the connection end with no HTTP response at all.

    Under werkzeug's server the socket is in the environ; shutting it down (not closing it: werkzeug still
    owns the descriptor) makes werkzeug's own write fail with a broken pipe, which it treats as a client
    that went away, quietly. Other servers get the 500 the caller returns instead.
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client left already
    return True


def inject_faults():
    """Latency, then maybe a dropped connection, a 500 or a 429, as configured on the state."""
    faults = state().faults
    if faults["latency"]:
        time.sleep(faults["latency"])
    roll = random.random()
    if roll < faults["drop_rate"]:
        raise DroppedConnection()
    roll -= faults["drop_rate"]
    if roll < faults["error_rate"]:
        raise ApiError(500, {"error": "InternalError", "description": "Internal Server Error (injected)"})
    roll -= faults["error_rate"]
    if roll < faults["rate_limit_rate"]:
        raise rate_limited("Rate limit exceeded (injected)", 1)


def add_standard_headers(response):
    """Headers real Zendesk sends on every API response (docs/outside-apis.md#zendesk-rate-limits)."""
    limit = getattr(g, "rate_limit", None)
    if limit is not None:
        remaining = getattr(g, "rate_remaining", limit)
        response.headers["X-Rate-Limit"] = str(limit)
        response.headers["X-Rate-Limit-Remaining"] = str(remaining)
        response.headers["ratelimit-limit"] = str(limit)
        response.headers["ratelimit-remaining"] = str(remaining)
        response.headers["ratelimit-reset"] = str(getattr(g, "rate_reset", 60))
    response.headers["X-Zendesk-API-Version"] = "v2"
    response.headers["X-Request-Id"] = secrets.token_hex(8)
    return response
