"""OAuth for the Zendesk sandbox (docs/outside-apis.md#zendesk-oauth): the authorization-code flow's pages, the token
endpoint (code, refresh with rotation, client credentials), and the API endpoints a client reads about
its own grant and its account's plan.

The two pages (sign in, then Allow/Deny) hand the pending request to each other in signed hidden form
fields, not in a cookie: real Zendesk signs in on its own domain, and a sandbox page opened from an
iframe'd product must work where third-party cookies are blocked. The fields are signed with the app's
SECRET_KEY and expire, which also makes them the forms' CSRF protection: the consent field only exists
after a correct password, and only the sandbox can mint it.
"""
import base64
import hashlib
import hmac
import secrets
import zlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .http import account_from_host, api_url, json_response, not_found, require_scope, state
from .state import Grant, iso

bp = Blueprint("oauth", __name__)

CODE_TTL = 120  # seconds an authorization code lives (docs/outside-apis.md#zendesk-oauth)
# (default, min, max) seconds; a requested value outside the documented bounds is clamped
# (docs/outside-apis.md#zendesk-oauth).
ACCESS_TTL = (1800, 300, 172_800)
REFRESH_TTL = (2_592_000, 604_800, 7_776_000)
FORM_MAX_AGE = 600  # seconds a sign-in or consent form stays usable
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_SCOPE = "read"  # NB: Zendesk is silent on a missing `scope`; RFC 6749 §3.3 allows a default.

# RFC 6749 §5.2 error codes and statuses. NB: Zendesk's exact descriptions are not published;
# these are the wording of the common Rails OAuth provider (Doorkeeper).
OAUTH_ERRORS = {
    "invalid_request": (400, "The request is missing a required parameter, includes an unsupported parameter "
                             "value, or is otherwise malformed."),
    "invalid_client": (401, "Client authentication failed due to unknown client, no client authentication "
                            "included, or unsupported authentication method."),
    "invalid_grant": (400, "The provided authorization grant is invalid, expired, revoked, does not match the "
                           "redirection URI used in the authorization request, or was issued to another client."),
    "unsupported_grant_type": (400, "The authorization grant type is not supported by the authorization server."),
    "invalid_scope": (400, "The requested scope is invalid, unknown, or malformed."),
}
ACCESS_DENIED = "The resource owner or authorization server denied the request."

# What the consent page says each scope allows (docs/outside-apis.md#zendesk-oauth "Scopes").
SCOPE_WORDS = {"read": "Read all your data", "write": "Create, change and delete your data",
               "impersonate": "Act on behalf of other users"}


class OAuthError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


@bp.errorhandler(OAuthError)
def oauth_error(error):
    status, description = OAUTH_ERRORS[error.code]
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401 and request.authorization:
        headers["WWW-Authenticate"] = 'Basic realm="Zendesk"'
    return json_response({"error": error.code, "error_description": description}, status, headers)


# ---- signed hidden fields ------------------------------------------------------------------------
def _serializer(purpose):
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"zendesk-sandbox-oauth-{purpose}")


def _sign(data, purpose):
    return _serializer(purpose).dumps(data)


def _load(token, purpose):
    """The signed data, or None when the field is missing, forged or older than FORM_MAX_AGE."""
    try:
        return _serializer(purpose).loads(token or "", max_age=FORM_MAX_AGE)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None


# ---- the authorize pages -------------------------------------------------------------------------
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                    "code_challenge_method")


def is_loopback(uri):
    """The sandbox's open redirect policy: any http://127.0.0.1:* or http://localhost:* URL (README)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment


def _request_problem(params):
    """Why this authorize request must NOT redirect back (RFC 6749 §4.1.2.1), or None."""
    client = state().oauth_clients.get(params["client_id"])
    if client is None:
        return "The application that sent you here is not registered with this Zendesk (unknown client_id)."
    uri = params["redirect_uri"]
    if not uri or not (uri in client.redirect_uris or is_loopback(uri)):
        return ("The application asked to send you back to an address this Zendesk does not allow "
                "(redirect_uri must be an http://127.0.0.1 or http://localhost URL).")
    return None


def _redirect_back(params, **query):
    """302 to the client's redirect_uri with `query` (and the client's `state`) added to its own query."""
    parts = urlsplit(params["redirect_uri"])
    pairs = parse_qsl(parts.query, keep_blank_values=True) + list(query.items())
    if params.get("state"):
        pairs.append(("state", params["state"]))
    return redirect(urlunsplit(parts._replace(query=urlencode(pairs))), 302)


def _error_page(message, status=400):
    return render_template("oauth/error.html", message=message), status


def _client_name(params):
    return state().oauth_clients[params["client_id"]].name


@bp.get("/oauth/authorizations/new")
def authorize():
    params = {key: request.args.get(key, "") for key in AUTHORIZE_PARAMS}
    problem = _request_problem(params)
    if problem:
        return _error_page(problem)
    if params["response_type"] != "code":
        return _redirect_back(params, error="unsupported_response_type",
                              error_description="Only response_type=code is supported.")
    if params["code_challenge"] and params["code_challenge_method"] not in ("", "S256", "plain"):
        return _redirect_back(params, error="invalid_request",
                              error_description="code_challenge_method must be S256 or plain.")
    params["scope"] = " ".join(params["scope"].split()) or DEFAULT_SCOPE
    host_account = account_from_host()
    return render_template("oauth/sign_in.html", request_token=_sign(params, "authorize"),
                           client_name=_client_name(params), account=host_account, email="", error=None)


def check_password(email, password):
    """(account, user) for a seeded agent or admin with this password, else (None, None).

    The account is the Host's subdomain (`acme.localhost`), else the one the email belongs to, else the
    default account.
    """
    sandbox = state()
    host_account = account_from_host()
    if host_account is not None:
        candidates = [host_account]
    else:
        candidates = [a for a in sandbox.accounts.values() if a.find_user(email=email)] or [sandbox.account()]
    for account in candidates:
        user = account.find_user(email=email) if email else None
        stored = account.passwords.get(user["id"]) if user else None
        if stored and user["role"] != "end-user" and hmac.compare_digest(stored.encode(), password.encode()):
            return account, user
    return None, None


@bp.post("/oauth/authorizations/sign_in")
def sign_in():
    params = _load(request.form.get("request_token"), "authorize")
    if params is None:
        return _error_page("This sign-in form has expired or was changed. Go back to the application and "
                           "start again.")
    email = request.form.get("email", "").strip()
    account, user = check_password(email, request.form.get("password", ""))
    if user is None:
        return render_template("oauth/sign_in.html", request_token=request.form["request_token"],
                               client_name=_client_name(params), account=account_from_host(), email=email,
                               error="Invalid email or password."), 401
    consent = dict(params, subdomain=account.subdomain, user_id=user["id"])
    scopes = [(scope, SCOPE_WORDS.get(scope) or _describe_scope(scope)) for scope in params["scope"].split()]
    return render_template("oauth/consent.html", consent_token=_sign(consent, "consent"),
                           client_name=_client_name(params), account=account, user=user, scopes=scopes)


def _describe_scope(scope):
    resource, _, access = scope.partition(":")
    verb = {"read": "Read", "write": "Create, change and delete"}.get(access)
    return f"{verb} your {resource.replace('_', ' ')}" if verb else "Unknown scope (calls needing it will be refused)"


@bp.post("/oauth/authorizations/decide")
def decide():
    consent = _load(request.form.get("consent_token"), "consent")
    account = state().accounts.get(consent["subdomain"]) if consent else None
    if account is None:
        return _error_page("This authorization form has expired or was changed. Go back to the application "
                           "and start again.")
    if request.form.get("decision") != "allow":
        return _redirect_back(consent, error="access_denied", error_description=ACCESS_DENIED)
    code = secrets.token_urlsafe(32)
    with account.lock:
        account.codes[code] = {
            "client_id": consent["client_id"], "user_id": consent["user_id"],
            "redirect_uri": consent["redirect_uri"], "scope": consent["scope"],
            "expires_at": account.now() + CODE_TTL, "code_challenge": consent["code_challenge"],
            "code_challenge_method": consent["code_challenge_method"] or "plain", "access_token": None,
        }
    return _redirect_back(consent, code=code)


# ---- the token endpoint --------------------------------------------------------------------------
def _token_request():
    """The parameters, from a JSON body (Zendesk's documented form) or a form body (what
    requests-oauthlib sends by default)."""
    data = request.get_json(silent=True) if request.is_json else None
    data = data if isinstance(data, dict) else request.form.to_dict()
    return {key: value if isinstance(value, str) else str(value) for key, value in data.items()
            if value is not None}


def _client(data):
    """(client, authenticated): client credentials from HTTP Basic (requests-oauthlib's default) or the body.

    A wrong secret is refused at once; a missing one is allowed only where PKCE stands in for it.
    """
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    else:
        client_id, secret = data.get("client_id", ""), data.get("client_secret", "")
    client = state().oauth_clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client")
    if secret and not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise OAuthError("invalid_client")
    return client, bool(secret)


def _ttl(value, bounds):
    default, low, high = bounds
    if value in (None, ""):
        return default
    try:
        seconds = int(value)
    except ValueError:
        raise OAuthError("invalid_request") from None
    return min(max(seconds, low), high)


def _find(table_name, key):
    """(account, value) of the first account whose `table_name` dict holds `key` (Host's account first)."""
    host_account = account_from_host()
    accounts = [host_account] if host_account else list(state().accounts.values())
    for account in accounts:
        value = getattr(account, table_name).get(key)
        if value is not None:
            return account, value
    return None, None


def _issue(account, client, user_id, scope, data, with_refresh=True):
    now = account.now()
    expires_in = _ttl(data.get("expires_in"), ACCESS_TTL)
    refresh_in = _ttl(data.get("refresh_token_expires_in"), REFRESH_TTL)
    grant = Grant(access_token=secrets.token_hex(32), refresh_token=secrets.token_hex(32) if with_refresh else "",
                  client_id=client.identifier, user_id=user_id, scope=scope, expires_at=now + expires_in,
                  refresh_expires_at=now + refresh_in if with_refresh else now + expires_in, created_at=now)
    with account.lock:
        account.grants[grant.access_token] = grant
        if with_refresh:
            account.refresh_tokens[grant.refresh_token] = grant.access_token
    body = {"access_token": grant.access_token, "token_type": "bearer", "scope": scope, "expires_in": expires_in}
    if with_refresh:
        body.update(refresh_token=grant.refresh_token, refresh_token_expires_in=refresh_in)
    return grant, body


def revoke(account, grant):
    with account.lock:
        account.grants.pop(grant.access_token, None)
        account.refresh_tokens.pop(grant.refresh_token, None)


def _verify_pkce(record, verifier):
    if record["code_challenge_method"] == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return bool(verifier) and hmac.compare_digest(expected.encode(), record["code_challenge"].encode())


def _authorization_code(client, authenticated, data):
    code = data.get("code")
    if not code:
        raise OAuthError("invalid_request")
    account, record = _find("codes", code)
    if record is None or record["client_id"] != client.identifier:
        raise OAuthError("invalid_grant")
    with account.lock:
        if record["access_token"] is not None:
            # A code used twice: refuse, and revoke what it gave the first time (RFC 6749 §4.1.2).
            first = account.grants.get(record["access_token"])
            if first is not None:
                revoke(account, first)
            raise OAuthError("invalid_grant")
        if account.now() > record["expires_at"] or data.get("redirect_uri") != record["redirect_uri"]:
            raise OAuthError("invalid_grant")
        if record["code_challenge"]:
            if not _verify_pkce(record, data.get("code_verifier", "")):
                raise OAuthError("invalid_grant")
        elif not authenticated:
            raise OAuthError("invalid_client")
        grant, body = _issue(account, client, record["user_id"], record["scope"], data)
        record["access_token"] = grant.access_token
    return body


def _refresh_token(client, authenticated, data):
    """Rotation: "A successful request will also return a refresh token and delete the previous access and
    refresh tokens" (support.zendesk.com/hc/en-us/articles/9182123625370)."""
    token = data.get("refresh_token")
    if not token:
        raise OAuthError("invalid_request")
    if not authenticated:
        raise OAuthError("invalid_client")
    account, access_token = _find("refresh_tokens", token)
    grant = account.grants.get(access_token) if account else None
    if grant is None or grant.client_id != client.identifier or grant.refresh_expires_at <= account.now():
        raise OAuthError("invalid_grant")
    scope = " ".join(data.get("scope", "").split()) or grant.scope
    if not set(scope.split()) <= set(grant.scope.split()):
        raise OAuthError("invalid_scope")
    revoke(account, grant)
    return _issue(account, client, grant.user_id, scope, data)[1]


def _client_credentials(client, authenticated, data):
    """Confidential clients only (added 2025-03-04, docs/outside-apis.md#zendesk-oauth). The token acts as the account's
    first admin and has no refresh token (RFC 6749 §4.4.3)."""
    if not authenticated:
        raise OAuthError("invalid_client")
    account = account_from_host() or state().account()
    admin = next(u for u in account.users.values() if u["role"] == "admin")
    scope = " ".join(data.get("scope", "").split()) or DEFAULT_SCOPE
    return _issue(account, client, admin["id"], scope, data, with_refresh=False)[1]


GRANT_TYPES = {"authorization_code": _authorization_code, "refresh_token": _refresh_token,
               "client_credentials": _client_credentials}


@bp.post("/oauth/tokens")
def tokens():
    data = _token_request()
    if not data.get("grant_type"):
        raise OAuthError("invalid_request")
    handler = GRANT_TYPES.get(data["grant_type"])
    if handler is None:
        raise OAuthError("unsupported_grant_type")
    client, authenticated = _client(data)
    body = handler(client, authenticated, data)
    # 201, as CreateTokenForGrantType answers ([OAS-2025], docs/outside-apis.md#zendesk-oauth).
    return json_response(body, 201, {"Cache-Control": "no-store", "Pragma": "no-cache"})


# ---- API: the caller's own token ---------------------------------------------------------------
def token_id(grant):
    """A stable numeric id for a grant (ids are integers in the OAuth Tokens API)."""
    return int(hashlib.sha256(grant.access_token.encode()).hexdigest()[:12], 16)


def client_number(identifier):
    """OAuth Tokens show `client_id` as the client's integer id; the sandbox derives one from its identifier."""
    return zlib.crc32(identifier.encode())


def token_json(grant):
    """The OAuth Tokens API's token object (developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens).

    NB: "Zendesk shows only the first 10 characters of each token in API responses" (viewing-oauth-tokens doc).
    """
    return {
        "url": api_url(f"oauth/tokens/{token_id(grant)}.json"), "id": token_id(grant),
        "user_id": grant.user_id, "client_id": client_number(grant.client_id),
        "token": grant.access_token[:10], "refresh_token": grant.refresh_token[:10] or None,
        "scopes": grant.scope.split(), "created_at": iso(grant.created_at), "used_at": None,
        "expires_at": iso(grant.expires_at),
        "refresh_token_expires_at": iso(grant.refresh_expires_at) if grant.refresh_token else None,
    }


def _current_grant():
    grant = getattr(g, "grant", None)
    if grant is None:  # API-token callers have no OAuth token of their own
        raise not_found()
    return grant


def _grant_by_id(number):
    grant = next((gr for gr in list(g.account.grants.values()) if token_id(gr) == number), None)
    if grant is None or (grant.user_id != g.user["id"] and g.user["role"] != "admin"):
        raise not_found()
    return grant


# NB: no scope is required to read or revoke the token making the call: tap-zendesk reads `current`
# to decide when to refresh (docs/outside-apis.md#zendesk-oauth), and an uninstall must be able to revoke a narrow
# token.
@bp.get("/api/v2/oauth/tokens/current")
def show_current_token():
    return json_response({"token": token_json(_current_grant())})


@bp.delete("/api/v2/oauth/tokens/current")
def revoke_current_token():
    revoke(g.account, _current_grant())
    return Response(status=204)


@bp.get("/api/v2/oauth/tokens/<int:number>")
def show_token(number):
    return json_response({"token": token_json(_grant_by_id(number))})


@bp.delete("/api/v2/oauth/tokens/<int:number>")
def revoke_token(number):
    revoke(g.account, _grant_by_id(number))
    return Response(status=204)


# ---- API: the account's plan ---------------------------------------------------------------------
# `GET /api/v2/account/subscription.json` -> `subscription.plan_name` is how API clients read a Zendesk
# account's plan: Airbyte's Zendesk Support source reads exactly that field to decide which streams the
# plan allows (airbytehq/airbyte: source-zendesk-support/source_zendesk_support/streams.py,
# UserSubscriptionStream), and Salto's Zendesk adapter logs the `subscription` object. The other fields
# are sandbox additions (the real object's remaining fields are not public).
PLAN_NAMES = {"trial": "Trial", "team": "Team", "professional": "Professional", "enterprise": "Enterprise",
              "expired": "Expired", "free": "Free"}
TRIAL_DAYS = 14


@bp.get("/api/v2/account/subscription")
def subscription():
    require_scope("account", False)
    account = g.account
    agents = sum(1 for user in account.users.values() if user["role"] != "end-user")
    trial_end = iso(account.now() + TRIAL_DAYS * 86400)[:10] if account.plan == "trial" else None
    return json_response({"subscription": {
        "url": api_url("account/subscription.json"), "account_id": account.id,
        "plan_name": PLAN_NAMES[account.plan], "plan_type": account.plan,
        "is_trial": account.plan == "trial", "trial_expires_on": trial_end, "max_agents": agents,
    }})
