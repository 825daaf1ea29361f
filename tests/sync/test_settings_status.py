"""The settings panel never waits on an outside service: it renders from what is stored, and each service's
live status loads in a fragment of its own (GET /settings/crm/status, /settings/zendesk/status), checked
with one short call and cached a minute in the database. A slow or failing service gets a plain line,
quickly. Both sandboxes are served over real HTTP and count the calls they serve."""
import threading
from datetime import timedelta

import requests
from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.extensions import db
from widget.models import Connection, utcnow
from widget.sandbox.crm.signing import mint_context
from widget.settings.status import STATUS_CACHE_SECONDS, STATUS_POLICY

ORG_CALL, PLAN_CALL = "/crm/v8/org", "/api/v2/account/subscription"


def _get(s, path, user=ADMIN, htmx=True):
    db.session.rollback()  # the test client shares the test's session: start each request afresh
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user)}
    if htmx:
        headers["HX-Request"] = "true"
    return s.app.test_client().get(path, headers=headers)


def _soup(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _calls(s):
    return s.crm_calls.count(fragment=ORG_CALL), s.zendesk_calls.count(fragment=PLAN_CALL)


def _faults(sandbox, **faults):
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10)
    assert answer.status_code == 200, answer.text


def test_the_panel_renders_from_storage_with_no_outside_call(synced_installation):
    s = synced_installation
    for htmx in (False, True):  # the whole page, and the panel alone as htmx reloads it
        page = _soup(_get(s, "/settings", htmx=htmx))
        assert s.crm_calls.calls == [] and s.zendesk_calls.calls == []  # not even a token refresh
        crm, zendesk = page.select_one("#crm-connection"), page.select_one("#zendesk-connection")
        assert (crm["hx-get"], crm["hx-trigger"], crm["hx-swap"]) == ("/settings/crm/status", "load", "outerHTML")
        assert (zendesk["hx-get"], zendesk["hx-trigger"]) == ("/settings/zendesk/status", "load")
        assert crm.select_one(".ok").get_text() == "Connected to this Zoho CRM account (JP data centre)."
        assert zendesk.select_one(".ok").get_text(strip=True) == "Authorized as acme."  # no plan seen yet
        assert page.select_one("#zendesk-checking").get_text() == "Checking that Zendesk still accepts the extension…"
        assert page.select_one("#sync-settings") is not None  # both grants stored: the sync part is there


def test_each_fragment_checks_its_service_once_and_the_cache_spares_the_next_call(synced_installation):
    s = synced_installation
    crm = _soup(_get(s, "/settings/crm/status")).select_one("#crm-connection")
    assert _calls(s) == (1, 0)
    assert crm.get("hx-trigger") is None and crm.select_one("#crm-checking") is None  # the live answer: no reload
    assert crm.select_one(".ok") is not None and crm.select_one(".error") is None

    zendesk = _soup(_get(s, "/settings/zendesk/status")).select_one("#zendesk-connection")
    assert _calls(s) == (1, 1)
    assert zendesk.select_one(".ok").get_text(strip=True) == "Authorized as acme (plan Professional)."

    # Within the cache's life (kept in the database: any worker), neither service is asked again ...
    for path in ("/settings/crm/status", "/settings/zendesk/status", "/settings/zendesk/status"):
        assert _soup(_get(s, path)).select_one(".ok") is not None
    assert _calls(s) == (1, 1)
    # ... and the panel shows the plan it last saw, at once.
    panel = _soup(_get(s, "/settings"))
    assert panel.select_one("#zendesk-connection .ok").get_text(strip=True) == "Authorized as acme (plan Professional)."
    assert _calls(s) == (1, 1)

    # Once the answer is older than the cache's life, the next fragment asks again.
    db.session.execute(db.update(Connection).where(Connection.installation_id == s.installation_id)
                       .values(checked_at=utcnow() - timedelta(seconds=STATUS_CACHE_SECONDS + 1)))
    db.session.commit()
    _get(s, "/settings/crm/status")
    _get(s, "/settings/zendesk/status")
    assert _calls(s) == (2, 2)


def test_a_slow_zendesk_gives_a_clear_line_quickly_and_is_checked_again_later(synced_installation):
    s = synced_installation
    # Zendesk holds the call far past our timeout, then would answer well: the line says it did not answer
    # while Zendesk still holds it (one short try, not the sync's patient retries).
    released = threading.Event()
    s.zendesk_calls.before("GET", PLAN_CALL, lambda path: released.wait(10 * STATUS_POLICY.timeout))
    try:
        zendesk = _soup(_get(s, "/settings/zendesk/status")).select_one("#zendesk-connection")
    finally:
        released.set()
    assert zendesk.select_one(".error").get_text() == \
        "Zendesk did not answer in time. The status will be checked again in a minute."
    assert (zendesk["hx-get"], zendesk["hx-trigger"]) == ("/settings/zendesk/status", "load delay:60s")
    assert zendesk.select_one(".ok") is not None  # still authorized: nothing was refused
    assert s.zendesk_calls.count(fragment=PLAN_CALL) == 1
    assert db.session.get(Connection, _grant_id(s, "zendesk")).checked_at is None  # no answer, nothing cached


def test_a_failing_crm_gives_a_clear_line_in_the_admins_language(synced_installation):
    s = synced_installation
    _faults(s.crm, error_rate=1.0)
    try:
        english = _soup(_get(s, "/settings/crm/status")).select_one("#crm-connection .error").get_text()
        with s.app.app_context():  # (flask-babel keeps the locale of an app context's first request)
            japanese = _soup(_get(s, "/settings/crm/status", user=dict(ADMIN, locale="ja_JP")))
    finally:
        _faults(s.crm, error_rate=0.0)
    assert english.startswith("Zoho CRM answered with an error (")
    assert english.endswith("The status will be checked again in a minute.")
    assert japanese.select_one("#crm-connection .error").get_text().endswith("1 分後に状態をもう一度確認します。")
    assert s.crm_calls.count(fragment=ORG_CALL) == 2  # one try per look
    assert "HX-Trigger" not in _get(s, "/settings/crm/status").headers  # working again: no pause to lift


def _grant_id(s, service):
    return db.session.scalar(db.select(Connection.id).filter_by(installation_id=s.installation_id, service=service))
