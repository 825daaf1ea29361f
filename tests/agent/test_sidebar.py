"""The agent sidebar over real HTTP against both sandboxes: the signed first request opens the panel for
the ticket's requester (a Contact with an Account and its open Deals, a Lead, the Deal a ticket came
from), no record → Create Lead exactly once, linked; refused tokens; the CRM down, slow or revoked."""
import time

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.agent.conftest import SIDEBAR_PATH, page
from widget.agent import panel
from widget.agent.tokens import mint_agent_token
from widget.connections import connection, mark_revoked
from widget.extensions import db
from widget.models import Link
from widget.sandbox.zendesk.apps import signed_token


def _crm_fault(s, **faults):
    answer = requests.post(f"{s.crm.url}/_sandbox/faults", json=faults, timeout=5)
    assert answer.status_code == 200, answer.text


def _leads(s, email):
    answer = s.crm_api.get(f"{s.crm_api.base}/Leads/search", params={"email": email}, timeout=10)
    return answer.json()["data"] if answer.status_code == 200 else []


def _text(response, selector):
    found = page(response).select_one(selector)
    return found.get_text(" ", strip=True) if found is not None else None


def test_the_signed_request_opens_the_panel_of_a_contact_with_their_account_and_open_deals(sidebar):
    s, records = sidebar.s, sidebar.company.records
    s.crm_insert("Deals", [
        {"Deal_Name": "Expansion", "Stage": "Negotiation/Review", "Amount": 1250000, "Closing_Date": "2027-03-31",
         "Account_Name": {"id": records["account_a"]}},
        {"Deal_Name": "Old order", "Stage": "Closed Won", "Account_Name": {"id": records["account_a"]}}])
    response, token = sidebar.open("yui_open")
    assert response.headers["Content-Security-Policy"].count("frame-ancestors https://*.zendesk.com") == 1
    assert response.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in response.headers
    loader = page(response).select_one("#agent-panel")
    assert loader["hx-get"] == f"{SIDEBAR_PATH}/tickets/{sidebar.company.tickets['yui_open']}"
    assert loader["hx-trigger"] == "load"

    shown = sidebar.panel("yui_open", token)
    assert shown.status_code == 200
    yui = s.crm_get("Contacts", records["yui"])
    assert _text(shown, "#requester") == "Requester Yui Sato <yui@hoshizora.example>"
    person = page(shown).select_one("#crm-person")
    assert person["data-module"] == "Contacts" and person["data-id"] == records["yui"]
    assert _text(shown, "#crm-person h2") == "Contact"
    link = page(shown).select_one("#open-person")
    assert link.get_text(strip=True) == "Yui Sato" and link["target"] == "_blank"
    assert link["href"] == f"{s.crm.url}/crm/tab/Contacts/{records['yui']}"
    assert _text(shown, "#person-owner dd") == yui["Owner"]["name"]
    assert page(shown).select_one("#crm-account")["data-id"] == records["account_a"]
    assert _text(shown, "#crm-account p") == "Hoshizora Holdings"
    deals = [[cell.get_text(strip=True) for cell in row.select("td")]
             for row in page(shown).select("#open-deals tbody tr")]
    assert sorted(deals) == [["Expansion", "Negotiation/Review", "1,250,000", "2027-03-31"],
                             ["Renewal", "Qualification", "", ""]]  # not the Closed Won one
    assert page(shown).select_one("#origin-deal") is None
    assert _text(shown, "#other-tickets") == "3 other tickets from this requester"  # pending, solved, deal_yui


def test_a_lead_and_the_deal_a_ticket_was_created_from(sidebar):
    _, token = sidebar.open("kato_open")
    shown = sidebar.panel("kato_open", token)
    assert _text(shown, "#crm-person h2") == "Lead"
    assert page(shown).select_one("#crm-person")["data-id"] == sidebar.company.records["kato"]
    assert _text(shown, "#person-company dd") == "Kato KK"
    assert page(shown).select_one("#crm-account") is None and page(shown).select_one("#create-lead") is None

    _, token = sidebar.open("deal_mori")
    shown = sidebar.panel("deal_mori", token)
    assert _text(shown, "#origin-deal") == "Created from the Deal Renewal (Qualification)"
    assert _text(shown, "#crm-account p") == "Tsukimi Freight"
    assert _text(shown, "#no-open-deals") == "No open Deals."


def test_no_record_create_lead_exactly_once_and_linked(sidebar):
    s, email = sidebar.s, "guest@hoshizora.example"
    _, token = sidebar.open("guest_hold")
    shown = sidebar.panel("guest_hold", token)
    form = page(shown).select_one("#create-lead")
    assert form["hx-post"] == f"{SIDEBAR_PATH}/tickets/{sidebar.company.tickets['guest_hold']}/lead"
    assert page(shown).select_one("#lead-name")["value"] == "Guest Visitor"
    assert page(shown).select_one("#lead-email")["value"] == email
    assert _text(shown, "#create-lead button") == "Create Lead in Zoho CRM"
    assert _leads(s, email) == []

    too_long = sidebar.panel("guest_hold", token, method="post", suffix="/lead", data={"company": "x" * 201})
    assert too_long.status_code == 422 and page(too_long).select_one("#lead-problem") is not None
    assert _leads(s, email) == []  # a user's mistake changes nothing

    s.crm_calls.lose_answer("POST", "/Leads/upsert")  # the Lead made, its answer lost: tried again
    created = sidebar.panel("guest_hold", token, method="post", suffix="/lead", data={"company": "Hoshizora"})
    assert created.status_code == 200 and page(created).select_one("#lead-created") is not None
    assert _text(created, "#crm-person h2") == "Lead"
    [lead] = _leads(s, email)
    assert (lead["First_Name"], lead["Last_Name"], lead["Company"]) == ("Guest", "Visitor", "Hoshizora")
    assert page(created).select_one("#crm-person")["data-id"] == lead["id"]
    [link] = [link for link in s.links("user") if link.zendesk_id == sidebar.company.users["guest"]["id"]]
    assert (link.crm_module, link.crm_id) == ("Leads", lead["id"])

    assert s.crm_calls.count("POST", "/Leads/upsert") == 2

    # A second click (a retried request): the same Lead, nothing created twice.
    again = sidebar.panel("guest_hold", token, method="post", suffix="/lead", data={"company": "Hoshizora"})
    assert again.status_code == 200 and page(again).select_one("#crm-person")["data-id"] == lead["id"]
    assert [found["id"] for found in _leads(s, email)] == [lead["id"]]
    assert len([link for link in s.links("user") if link.zendesk_id == sidebar.company.users["guest"]["id"]]) == 1
    assert _text(sidebar.panel("guest_hold", token), "#crm-person h2") == "Lead"


def _refused(sidebar, path, token):
    response = sidebar.post(path, token)
    assert response.status_code == 401, response.data
    assert b"X-Agent-Token" not in response.data
    return response


def test_refused_framework_tokens(sidebar):
    path, _ = sidebar.launch("yui_open")
    account = sidebar.s.account()
    installation_id = int(sidebar.installation().zendesk_app_installation_id)
    ours = {"id": installation_id}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _refused(sidebar, path, signed_token(account, ours, sidebar.app, key=other_key))  # another key
    _refused(sidebar, path, signed_token(account, {"id": installation_id + 1}, sidebar.app))  # another installation
    now = int(time.time())
    claims = {"iss": "other.zendesk.com", "iat": now, "exp": now + 300,
              "aud": f"https://other.zendesk.com/api/v2/apps/installations/{installation_id}.json"}
    _refused(sidebar, path, jwt.encode(claims, sidebar.app.private_key, algorithm="RS256"))  # another account
    claims = {**claims, "iss": "acme.zendesk.com",
              "aud": f"https://acme.zendesk.com/api/v2/apps/installations/{installation_id}.json"}
    _refused(sidebar, path, jwt.encode({**claims, "iss": "other.zendesk.com"}, sidebar.app.private_key,
                                       algorithm="RS256"))  # issuer of another account
    _refused(sidebar, path, signed_token(account, ours, sidebar.app, now=now - 400))  # expired
    _refused(sidebar, path, jwt.encode({**claims, "exp": now + 86400}, sidebar.app.private_key,
                                       algorithm="RS256"))  # lives a day
    hs256 = jwt.encode(claims, "a shared secret of at least thirty-two bytes", algorithm="HS256")
    _refused(sidebar, path, hs256)  # not RS256
    _refused(sidebar, path, "")

    path, token = sidebar.launch("yui_open")
    assert sidebar.post(path, token).status_code == 200
    _refused(sidebar, path, token)  # the same request again, inside the token's life: once only
    expired = signed_token(account, ours, sidebar.app, now=now - 340)  # its life and the clock skew allowed
    _refused(sidebar, path.replace("app_guid=", "app_guid=x"), expired)  # replayed past its life


def test_our_token_is_short_lived_and_bound_to_its_ticket_and_installation(sidebar):
    _, token = sidebar.open("yui_open")
    other = sidebar.panel("ren_new", token)
    assert other.status_code == 403 and page(other).select_one("#agent-message") is not None
    installation = sidebar.installation()
    expired = mint_agent_token(installation, sidebar.company.tickets["yui_open"], "en", now=time.time() - 3600)
    assert sidebar.panel("yui_open", expired).status_code == 401
    assert sidebar.panel("yui_open", "").status_code == 401
    claims = jwt.decode(token, options={"verify_signature": False})
    other_tenant = jwt.encode({**claims, "sub": "2"}, "another installation's key, thirty-two bytes or more")
    assert sidebar.panel("yui_open", other_tenant).status_code == 401
    forged = jwt.encode({**claims, "sub": str(installation.id + 1)}, "any key at all, at least thirty-two bytes")
    assert sidebar.panel("yui_open", forged).status_code == 401
    installation.zendesk_app_installation_id = "1"  # the app installed again: tokens of the old one end
    db.session.commit()
    assert sidebar.panel("yui_open", token).status_code == 401


def test_answers_are_cached_per_requester(sidebar):
    s = sidebar.s
    _, token = sidebar.open("yui_open")
    assert sidebar.panel("yui_open", token).status_code == 200
    first = s.crm_calls.count(None, "/crm/v8/")
    assert first >= 3
    _, token = sidebar.open("yui_pending")  # the same requester's other ticket
    assert _text(sidebar.panel("yui_pending", token), "#crm-person h2") == "Contact"
    assert s.crm_calls.count(None, "/crm/v8/") == first
    assert s.zendesk_calls.count(None, "/api/v2/tickets/") == 0  # the requester from the local copy


def test_the_crm_down_slow_or_revoked_is_said_within_seconds(sidebar):
    s = sidebar.s
    _, token = sidebar.open("mori_open")
    _crm_fault(s, error_rate=1.0)
    started = time.monotonic()
    shown = sidebar.panel("mori_open", token)
    assert time.monotonic() - started < 2.0
    assert shown.status_code == 200 and "not answering" in _text(shown, "#crm-unavailable")
    assert page(shown).select_one("#retry") is not None
    _crm_fault(s, error_rate=0.0, latency=10.0)
    started = time.monotonic()
    shown = sidebar.panel("mori_open", token)
    assert time.monotonic() - started < 2.5
    assert "not answering" in _text(shown, "#crm-unavailable")
    _crm_fault(s, latency=0.0)
    shown = sidebar.panel("mori_open", token)
    assert _text(shown, "#crm-person h2") == "Contact"

    panel.forget(sidebar.installation(), panel.Requester(sidebar.company.users["mori"]["id"], "", "", None))
    mark_revoked(connection(sidebar.installation(), "crm"))
    calls = s.crm_calls.count()
    shown = sidebar.panel("mori_open", token)
    assert "authorize Zoho CRM again" in _text(shown, "#crm-unavailable") and s.crm_calls.count() == calls


def test_japanese_from_the_agents_locale(sidebar):
    agent = sidebar.s.account().users[sidebar.company.users["admin"]["id"]]
    agent["locale"] = "ja"
    response, token = sidebar.open("yui_open")
    assert page(response).html["lang"] == "ja"
    shown = sidebar.panel("yui_open", token)
    assert _text(shown, "#crm-person h2") == "連絡先"
    assert _text(shown, "#crm-account h2") == "取引先"


def test_uninstall_removes_the_app_from_zendesk(sidebar):
    from widget.lifecycle.uninstall import uninstall

    account = sidebar.s.account()
    market = sidebar.s.zendesk.state.marketplace
    assert len(market.of_account(account)) == 1
    result = uninstall(sidebar.installation())
    assert result.done, result.pending
    assert market.of_account(account) == []
    assert Link.query.count() == 0

