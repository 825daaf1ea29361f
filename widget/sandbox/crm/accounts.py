"""The Zoho Accounts servers of every data centre (docs/outside-apis.md#crm-oauth), at `{base}/accounts/{dc}`.

Sign-in (seeded CRM users' email + password; a session cookie the CRM web UI shares), the consent page,
the code exchange (with PKCE when the authorization asked with a challenge), refresh and revoke.
Signing in on any DC's server works for a user of any DC, and the redirect names the user's own DC in
`location` and `accounts-server` — as Zoho's multi-DC flow does — so the client must exchange the code
on that server (docs/outside-apis.md#crm-oauth).
"""
import base64
import hashlib
import secrets
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from .http import accounts_server, api_domain, json_response, state
from .state import DATA_CENTRES

bp = Blueprint("crm_accounts", __name__, url_prefix="/accounts/<dc>")
AUTH_PARAMS = ("client_id", "response_type", "redirect_uri", "scope", "access_type", "prompt", "state",
               "code_challenge", "code_challenge_method")
# PKCE (RFC 7636), as Zoho's accounts server takes it: a code asked with a challenge is exchanged only
# with its verifier.
CHALLENGE_METHODS = ("S256", "plain")


@bp.url_value_preprocessor
def pick_data_centre(endpoint, values):
    g.dc = values.pop("dc", None)
    if g.dc not in DATA_CENTRES:
        abort(404)


@bp.url_defaults
def keep_data_centre(endpoint, values):
    values.setdefault("dc", getattr(g, "dc", None))


def signed_in_user():
    """(org, user) of the browser's signed-in CRM user, or (None, None). The web UI uses it too."""
    who = session.get("crm_user") or {}
    centre = state().data_centres.get(who.get("dc"))
    org = centre.orgs.get(who.get("org_id")) if centre else None
    user = org.users.get(who.get("user_id")) if org else None
    return (org, user) if user else (None, None)


def sign_in(org, user):
    session["crm_user"] = {"dc": org.dc, "org_id": org.id, "user_id": user["id"]}


def csrf_token():
    token = session.get("crm_csrf")
    if token is None:
        token = session["crm_csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf():
    expected = session.get("crm_csrf")
    if not expected or not secrets.compare_digest(expected, request.form.get("csrf_token", "")):
        abort(400)


def _error_page(title, message, status=400):
    return render_template("accounts/error.html", dc=g.dc, title=title, message=message), status


def _redirect_allowed(client, uri):
    """Registered URIs, plus any http(s) loopback URL (the sandbox serves local developers)."""
    if uri in client["redirect_uris"]:
        return True
    parts = urlsplit(uri or "")
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


def _with_query(uri, params):
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _safe_next(url):
    """Only same-site paths, so sign-in can't be used as an open redirect ("/" is the web UI's home)."""
    parts = urlsplit(url or "")
    return url if url and not parts.scheme and not parts.netloc and url.startswith("/") else "/"


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("accounts/signin.html", dc=g.dc, next_url=next_url, email="", error=None,
                               csrf_token=csrf_token())
    check_csrf()
    email = request.form.get("email", "")
    org, user = state().find_user(email)
    if user is None or org.passwords.get(user["id"]) != request.form.get("password", ""):
        return render_template("accounts/signin.html", dc=g.dc, next_url=next_url, email=email,
                               error="Invalid email or password.", csrf_token=csrf_token()), 401
    sign_in(org, user)
    return redirect(next_url)


@bp.post("/signout")
def signout():
    check_csrf()
    session.pop("crm_user", None)
    return redirect(url_for(".signin", next=_safe_next(request.form.get("next"))))


def _auth_request(values):
    """Validated authorization parameters, or an error page tuple."""
    params = {key: values.get(key, "") for key in AUTH_PARAMS}
    client = state().clients.get(params["client_id"])
    if client is None:
        return None, None, _error_page("Invalid Client", "The client_id is not registered.")
    if not _redirect_allowed(client, params["redirect_uri"]):
        return None, None, _error_page("Invalid Redirect Uri", "The redirect_uri does not match the client's.")
    if params["response_type"] != "code":
        return None, None, _error_page("Invalid Response Type", "response_type must be code.")
    scopes = [s for s in params["scope"].replace(" ", ",").split(",") if s]
    if not scopes or any(len(s.split(".")) < 3 for s in scopes):
        return None, None, _error_page("Invalid OAuth Scope", "The scope parameter is missing or invalid.")
    if params["code_challenge_method"] and (params["code_challenge_method"] not in CHALLENGE_METHODS
                                            or not params["code_challenge"]):
        return None, None, _error_page("Invalid Code Challenge",
                                       "code_challenge_method must be S256 or plain, with a code_challenge.")
    return params, client, None


@bp.get("/oauth/v2/auth")
def consent():
    params, client, error = _auth_request(request.args)
    if error:
        return error
    org, user = signed_in_user()
    if user is None:
        return redirect(url_for(".signin", next=request.full_path))
    return render_template("accounts/consent.html", dc=g.dc, client=client, user=user, org=org,
                           scopes=[s for s in params["scope"].replace(" ", ",").split(",") if s],
                           offline=params["access_type"] == "offline", params=params, csrf_token=csrf_token())


@bp.post("/oauth/v2/auth")
def authorize():
    check_csrf()
    params, client, error = _auth_request(request.form)
    if error:
        return error
    org, user = signed_in_user()
    if user is None:
        return redirect(url_for(".signin", next=url_for(".consent", **params)))
    extra = {"state": params["state"]} if params["state"] else {}
    if request.form.get("decision") != "accept":
        return redirect(_with_query(params["redirect_uri"], {"error": "access_denied", **extra}))
    offline = params["access_type"] == "offline"
    # A refresh token comes only with the first offline consent, or again with prompt=consent
    # (docs/outside-apis.md#crm-oauth).
    new_refresh = offline and (params["prompt"] == "consent" or not state().has_refresh_token(org, user, client["client_id"]))
    scope = " ".join(s for s in params["scope"].replace(" ", ",").split(",") if s)
    code = state().issue_code(org, user, client["client_id"], scope, params["redirect_uri"], offline, new_refresh,
                              challenge=params["code_challenge"],
                              challenge_method=params["code_challenge_method"] or "plain")
    return redirect(_with_query(params["redirect_uri"], {
        "code": code, "location": org.dc, "accounts-server": accounts_server(org.dc), **extra}))


def _token_error(error):
    # NB: the token endpoint answers errors with HTTP 200 and an `error` key (docs/outside-apis.md#crm-tokens).
    return json_response({"error": error})


def _client():
    values = request.values
    client = state().clients.get(values.get("client_id", ""))
    if client is None:
        return None, "invalid_client"
    if not secrets.compare_digest(client["client_secret"], values.get("client_secret", "")):
        # NB: [unverified] Zoho's word for a wrong secret; `invalid_client` is the observed unknown-client one.
        return None, "invalid_client_secret"
    return client, None


@bp.post("/oauth/v2/token")
def token():
    """authorization_code and refresh_token grants; params as form body or query string
    (docs/outside-apis.md#crm-oauth)."""
    sandbox, values = state(), request.values
    centre = sandbox.data_centres[g.dc]
    grant_type = values.get("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        return _token_error("unsupported_grant_type")
    client, error = _client()
    if error:
        return _token_error(error)
    if grant_type == "authorization_code":
        with centre.lock:
            code = centre.codes.pop(values.get("code", ""), None)  # one-time use
        if code is None or code["expires"] <= sandbox.clock.now() or code["client_id"] != client["client_id"]:
            return _token_error("invalid_code")
        if values.get("redirect_uri") and values["redirect_uri"] != code["redirect_uri"]:
            return _token_error("invalid_redirect_uri")
        if code["challenge"] and not _verifier_matches(code, values.get("code_verifier", "")):
            return _token_error("invalid_code")
        org = centre.orgs[code["org_id"]]
        refresh = None
        if code["new_refresh"]:
            refresh = sandbox.issue_refresh_token(org, org.users[code["user_id"]], client["client_id"], code["scope"])
        access = sandbox.issue_access_token(g.dc, client["client_id"], org.id, code["user_id"], code["scope"], refresh)
        body = {"access_token": access}
        if refresh:
            body["refresh_token"] = refresh
        scope = code["scope"]
    else:
        grant = centre.refresh_tokens.get(values.get("refresh_token", ""))
        if grant is None or grant["client_id"] != client["client_id"]:
            return _token_error("invalid_code")
        access = sandbox.issue_access_token(g.dc, client["client_id"], grant["org_id"], grant["user_id"],
                                            grant["scope"], values["refresh_token"])
        body, scope = {"access_token": access}, grant["scope"]
    # NB: `expires_in` in seconds and no `expires_in_sec` (the SDK would read ms otherwise,
    # docs/outside-apis.md#crm-tokens); `api_domain` points back at this sandbox so clients (and the SDK) keep calling
    # it.
    body.update({"scope": scope, "api_domain": api_domain(g.dc), "token_type": "Bearer", "expires_in": 3600})
    return json_response(body)


def _verifier_matches(code, verifier):
    if code["challenge_method"] == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return bool(verifier) and secrets.compare_digest(verifier.encode(), code["challenge"].encode())


@bp.post("/oauth/v2/token/revoke")
def revoke():
    if state().revoke_refresh_token(g.dc, request.values.get("token", "")):
        return json_response({"status": "success"})
    return _token_error("invalid_token")


@bp.get("/oauth/serverinfo")
def serverinfo():
    """Accounts server per DC ([obs] shape, docs/outside-apis.md#crm-data-centres)."""
    return json_response({"result": "success", "locations": {dc: accounts_server(dc) for dc in DATA_CENTRES}})
