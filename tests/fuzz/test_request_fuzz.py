"""Property-based fuzzing (hypothesis) of the endpoints outsiders post to: the marketplace's lifecycle
calls, the Zendesk and CRM webhooks, and the settings forms a widget context opens. Random and malformed
bodies, Content-Type and Content-Length lies, forged and genuine signatures, stray query strings: never a
5xx, every refusal a JSON error (lifecycle, webhooks) or a form message (settings), and nothing written to
any table on refusal. The default suite tries ~100 examples a family; `-m slow` runs many more."""
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.helpers import install
from tests.settings.flows import Admin
from widget.extensions import db
from widget.models import Installation
from widget.sandbox.zendesk.delivery import signature
from widget.sandbox.zendesk.state import iso
from widget.sandbox.crm.signing import marketplace_headers

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ_LONG = settings(FUZZ, max_examples=1500)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
# Bodies: raw bytes, JSON of any shape, or JSON objects with the keys the endpoints look at.
known_keys = st.sampled_from(["org_id", "org_name", "data_center", "installer", "uninstaller", "changed_by", "scope",
                              "type", "id", "subject", "detail", "event", "token", "channel_id", "module", "ids",
                              "operation", "server_time", "subdomain", "csrf_token", "ctx"])
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(known_keys, json_values, max_size=8).map(lambda value: json.dumps(value).encode()),
    st.text(max_size=100).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from([None, "application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "multipart/form-data",
                                 "multipart/form-data; boundary=x", "application/json; charset=klingon", "\x00"])
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
queries = st.dictionaries(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=8),
                          st.text(max_size=20), max_size=3)


# The replay guard's ledger (widget/lifecycle/replay.py) remembers every verified marketplace signature
# before the body is looked at, refused or not: a call refused now (say, a permission change for an org
# not yet installed) must not be accepted if replayed later. It is not data a refusal may change.
LEDGERS = ("used_signature",)


def row_counts(app):
    with app.app_context():
        counts = {table.name: db.session.scalar(db.select(db.func.count()).select_from(table))
                  for table in db.metadata.sorted_tables if table.name not in LEDGERS}
        db.session.remove()
    return counts


def headers_with(content_type, length_lie, extra):
    headers = dict(extra)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if length_lie is not None:
        headers["Content-Length"] = str(length_lie)
    return headers


def assert_json_refusal(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert isinstance(body, dict) and body.get("error") and body.get("message"), response.get_data()[:300]


# ---- lifecycle -------------------------------------------------------------------------------------
@pytest.fixture
def installed(app, client):
    return install(client)


def lifecycle_family(app, client):
    @given(action=st.sampled_from(["install", "permissions", "uninstall"]), raw=bodies, content_type=content_types,
           length_lie=st.none() | st.integers(0, 10_000), sign=st.sampled_from(["genuine", "forged", "none", "stale"]),
           query=queries)
    def check(action, raw, content_type, length_lie, sign, query):
        secret = app.config["MARKETPLACE_SECRET"]
        extra = {}
        if sign == "genuine":
            extra = marketplace_headers(secret, raw)
        elif sign == "stale":
            extra = marketplace_headers(secret, raw, int(time.time()) - 3600)
        elif sign == "forged":
            extra = marketplace_headers("not-the-marketplace-secret-" + "x" * 20, raw)
        before = row_counts(app)
        response = client.post(f"/lifecycle/{action}", data=raw, query_string=query,
                               headers=headers_with(content_type, length_lie, extra))
        assert_json_refusal(response)
        if response.status_code >= 400:
            assert row_counts(app) == before

    return check


def test_lifecycle_calls_never_fail_on_malformed_requests(app, client, installed):
    FUZZ(lifecycle_family(app, client))()


@pytest.mark.slow
def test_lifecycle_calls_never_fail_on_malformed_requests_long(app, client, installed):
    FUZZ_LONG(lifecycle_family(app, client))()


# ---- webhooks --------------------------------------------------------------------------------------
@pytest.fixture
def webhook_installation(app, installed):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id="org-1"))
        installation.zendesk_webhook_secret = "fuzz-webhook-secret"
        installation.crm_channel_id, installation.crm_channel_token = "1000", "fuzz-channel-token"
        db.session.commit()
        return installation.installation_key


def webhook_family(app, client, key):
    @given(source=st.sampled_from(["zendesk", "crm"]), raw=bodies, content_type=content_types,
           length_lie=st.none() | st.integers(0, 10_000), sign=st.sampled_from(["genuine", "forged", "none", "stale"]),
           timestamp=st.none() | header_text, wrong_key=st.booleans(), query=queries)
    def check(source, raw, content_type, length_lie, sign, timestamp, wrong_key, query):
        extra = {}
        if source == "zendesk" and sign != "none":
            stamp = timestamp if timestamp is not None else iso(time.time() - (3600 if sign == "stale" else 0))
            secret = "fuzz-webhook-secret" if sign in ("genuine", "stale") else "another-secret"
            extra = {"X-Zendesk-Webhook-Signature": signature(secret, stamp, raw),
                     "X-Zendesk-Webhook-Signature-Timestamp": stamp}
        before = row_counts(app)
        response = client.post(f"/webhooks/{source}/{'unknown' if wrong_key else key}", data=raw, query_string=query,
                               headers=headers_with(content_type, length_lie, extra))
        assert_json_refusal(response)
        if response.status_code >= 400:
            assert row_counts(app) == before

    return check


def test_webhooks_never_fail_on_malformed_requests(app, client, webhook_installation):
    FUZZ(webhook_family(app, client, webhook_installation))()


@pytest.mark.slow
def test_webhooks_never_fail_on_malformed_requests_long(app, client, webhook_installation):
    FUZZ_LONG(webhook_family(app, client, webhook_installation))()


# ---- settings forms --------------------------------------------------------------------------------
SETTINGS_POSTS = ["/settings/zendesk", "/settings/wizard/sync", "/settings/wizard/organizations",
                  "/settings/wizard/mapping", "/settings/wizard/summary", "/settings/sync", "/settings/sync/resume"]
form_fields = st.dictionaries(st.sampled_from(["subdomain", "csrf_token", "direction", "organizations", "interval",
                                               "step", "action", "confirm", "mapping", "fields", "ctx"])
                              | st.text(max_size=8), st.text(max_size=40), max_size=6)


def settings_family(app, client, admin):
    token = admin.form_token()

    @given(path=st.sampled_from(SETTINGS_POSTS), fields=form_fields, raw=st.none() | bodies,
           content_type=content_types, length_lie=st.none() | st.integers(0, 10_000),
           with_token=st.booleans(), htmx=st.booleans(), query=queries)
    def check(path, fields, raw, content_type, length_lie, with_token, htmx, query):
        headers = {"X-Widget-Context": admin.ctx}
        if htmx:
            headers["HX-Request"] = "true"
        if raw is None:
            data = dict(fields, csrf_token=token) if with_token else fields
            response = client.post(path, data=data, query_string=query, headers=headers)
        else:
            response = client.post(path, data=raw, query_string=query,
                                   headers=headers_with(content_type, length_lie, headers))
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        # A refusal is the panel or the step again with its message (2xx, for htmx to swap), or a redirect.
        assert response.status_code < 400, (path, response.status_code, response.get_data(as_text=True)[:500])

    return check


@pytest.fixture
def admin(client, installed):
    return Admin(client, installed)


def test_settings_forms_never_fail_on_malformed_posts(app, client, admin):
    FUZZ(settings_family(app, client, admin))()


@pytest.mark.slow
def test_settings_forms_never_fail_on_malformed_posts_long(app, client, admin):
    FUZZ_LONG(settings_family(app, client, admin))()


# ---- minimal failing examples the fuzzing found, kept as regression tests --------------------------
def test_a_settings_post_claiming_json_with_an_empty_body_gets_the_form_message(admin):
    """Flask-WTF read JSON bodies and answered a bare 400 page when the body was not JSON."""
    response = admin.client.post("/settings/zendesk", data=b"", headers={
        "X-Widget-Context": admin.ctx, "Content-Type": "application/json"})
    assert response.status_code == 200
    assert b"This form has expired" in response.data
    assert admin.installation()["zendesk_subdomain"] is None
