"""The agent sidebar over real HTTP against both sandboxes: the signed first request opens the panel for
the ticket's requester (a Contact with an Account and its open Deals, a Lead, the Deal a ticket came
from), no record → Create Lead exactly once, linked; refused tokens; the CRM down, slow or revoked."""
import threading
import time

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from bs4 import BeautifulSoup

from tests.agent.conftest import SIDEBAR_PATH, agent_token, page
from widget.agent import panel
from widget.agent.tokens import PAGE_TOKEN_LIFETIME, mint_agent_token, mint_page_token
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


def page_of(answer):
    return BeautifulSoup(answer.text, "html.parser")


def _text(response, selector):
    found = page(response).select_one(selector)
    return found.get_text(" ", strip=True) if found is not None else None


def test_the_signed_request_opens_the_panel_of_a_contact_with_their_account_and_open_deals(sidebar):
    s, records = sidebar.s, sidebar.company.records
    s.crm_insert("Deals", [
        {"Deal_Name": "Expansion", "Stage": "Negotiation/Review", "Amount": 1250000, "Closing_Date": "2027-03-31",
         "Account_Name": {"id": records["account_a"]}},
        {"Deal_Name": "Old order", "Stage": "Closed Won", "Account_Name": {"id": records["account_a"]}}])
    response, page_token, zaf = sidebar.open("yui_open")
    assert response.headers["Content-Security-Policy"].count("frame-ancestors https://*.zendesk.com") == 1
    assert response.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in response.headers
    # The page names no ticket: its script asks the ZAF client (Zendesk's SDK, vendored) and loads the panel.
    scripts = [script["src"] for script in page(response).select("script[src]")]
    assert "/static/vendor/zaf_sdk-2.0.11.min.js" in scripts and scripts[-1] == "/static/js/agent_sidebar.js"
    loader = page(response).select_one("#agent-panel")
    assert loader["data-panel-url"] == f"{SIDEBAR_PATH}/tickets/" and not loader.has_attr("hx-get")
    assert zaf["ticket.id"] == sidebar.company.tickets["yui_open"]

    shown = sidebar.panel(zaf["ticket.id"], page_token, query={"locale": zaf["currentUser.locale"]})
    assert shown.status_code == 200 and shown.headers["X-Agent-Token"]
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
    shown, token = sidebar.bind("kato_open")
    assert _text(shown, "#crm-person h2") == "Lead"
    assert page(shown).select_one("#crm-person")["data-id"] == sidebar.company.records["kato"]
    assert _text(shown, "#person-company dd") == "Kato KK"
    assert page(shown).select_one("#crm-account") is None and page(shown).select_one("#create-lead") is None

    shown, token = sidebar.bind("deal_mori")
    assert _text(shown, "#origin-deal") == "Created from the Deal Renewal (Qualification)"
    assert _text(shown, "#crm-account p") == "Tsukimi Freight"
    assert _text(shown, "#no-open-deals") == "No open Deals."


def test_no_record_create_lead_exactly_once_and_linked(sidebar):
    s, email = sidebar.s, "guest@hoshizora.example"
    shown, token = sidebar.bind("guest_hold")
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
    path, _, _ = sidebar.launch("yui_open")
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

    path, token, _ = sidebar.launch("yui_open")
    assert sidebar.post(path, token).status_code == 200
    _refused(sidebar, path, token)  # the same request again, inside the token's life: once only
    expired = signed_token(account, ours, sidebar.app, now=now - 340)  # its life and the clock skew allowed
    _refused(sidebar, path.replace("app_guid=", "app_guid=x"), expired)  # replayed past its life


def test_the_page_token_opens_one_ticket_once_then_our_token_is_bound_to_it(sidebar):
    tickets = sidebar.company.tickets
    _, page_token, zaf = sidebar.open("yui_open")
    assert zaf["ticket.id"] == tickets["yui_open"]
    refused = sidebar.panel("yui_open", page_token, method="post", suffix="/lead", data={"company": "x"})
    assert refused.status_code == 403 and "X-Agent-Token" not in refused.headers  # it opens the panel only
    shown = sidebar.panel("yui_open", page_token)
    token = shown.headers["X-Agent-Token"]
    assert shown.status_code == 200 and page(shown).select_one("#crm-person") is not None
    assert jwt.decode(token, options={"verify_signature": False})["ticket"] == tickets["yui_open"]
    # Exchanged once: the page token opens no second panel, for this ticket or any other.
    for name in ("yui_open", "ren_new"):
        again = sidebar.panel(name, page_token)
        assert again.status_code == 401 and "X-Agent-Token" not in again.headers
        assert page(again).select_one("#agent-message") is not None
    other = sidebar.panel("ren_new", token)
    assert other.status_code == 403 and page(other).select_one("#agent-message") is not None
    again = sidebar.panel("yui_open", token)
    assert again.status_code == 200 and "X-Agent-Token" not in again.headers  # bound already


def test_a_ticket_id_from_the_browser_reaches_only_the_signed_account(sidebar):
    s = sidebar.s
    # Another Zendesk account's ticket (a new account in the sandbox, with a ticket of its own).
    other = s.zendesk.state.add_account("globex", "professional")
    stranger = other.create_user({"name": "Other Customer", "email": "other@globex.example"}, notify=False)
    foreign = {"id": 0}
    while foreign["id"] in s.account().tickets or not foreign["id"]:  # an id only the other account has
        foreign, _ = other.create_ticket({"subject": "Theirs", "requester_id": stranger["id"]},
                                         {"body": "Not yours", "public": True}, stranger["id"], notify=False)
    _, page_token, _ = sidebar.open("yui_open")
    shown = sidebar.panel(foreign["id"], page_token)  # a browser that names a ticket the account lacks
    assert shown.status_code == 404 and "not found" in _text(shown, "#agent-message")
    assert b"other@globex.example" not in shown.data
    token = shown.headers["X-Agent-Token"]  # bound to that id: it opens nothing else
    assert sidebar.panel("yui_open", token).status_code == 403


def test_a_new_requester_is_read_from_zendesk_when_zaf_says_it_changed(sidebar):
    s, ticket_id = sidebar.s, sidebar.company.tickets["yui_open"]
    shown, token = sidebar.bind("yui_open")
    assert page(shown).select_one("#crm-person")["data-id"] == sidebar.company.records["yui"]
    # The agent makes the Lead the requester in Zendesk's ticket page (the sandbox's Requester form).
    ticket_page = page_of(sidebar.browser.get(f"{s.zendesk.url}/agent/tickets/{ticket_id}"))
    csrf = ticket_page.select_one("#change-requester input[name=csrf_token]")["value"]
    changed = sidebar.browser.post(f"{s.zendesk.url}/agent/tickets/{ticket_id}/requester",
                                   data={"csrf_token": csrf, "email": "kato@lead.example"},
                                   headers={"Accept": "application/json"})
    assert changed.status_code == 200 and changed.json() == {"email": "kato@lead.example", "name": "Sota Kato"}
    # Our local copy has not heard yet; the ZAF event makes the page ask with `fresh`: read from Zendesk.
    assert _text(sidebar.panel("yui_open", token), "#requester") == "Requester Yui Sato <yui@hoshizora.example>"
    fresh = sidebar.panel("yui_open", token, query={"fresh": "1"})
    assert _text(fresh, "#requester") == "Requester Sota Kato <kato@lead.example>"
    assert page(fresh).select_one("#crm-person")["data-id"] == sidebar.company.records["kato"]
    assert s.zendesk_calls.count("GET", f"/api/v2/tickets/{ticket_id}") == 1


def test_our_token_is_short_lived_and_bound_to_its_ticket_and_installation(sidebar):
    _, token = sidebar.bind("yui_open")
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
    unbound = jwt.encode({**claims, "ticket": None, "jti": "x"}, "any key at all, at least thirty-two bytes")
    assert sidebar.panel("yui_open", unbound).status_code == 401  # a page token only we signed
    expired_page = mint_page_token(installation, now=time.time() - PAGE_TOKEN_LIFETIME - 1)
    assert sidebar.panel("yui_open", expired_page).status_code == 401
    installation.zendesk_app_installation_id = "1"  # the app installed again: tokens of the old one end
    db.session.commit()
    assert sidebar.panel("yui_open", token).status_code == 401


def test_answers_are_cached_per_requester(sidebar):
    s = sidebar.s
    shown, _ = sidebar.bind("yui_open")
    assert shown.status_code == 200
    first = s.crm_calls.count(None, "/crm/v8/")
    assert first >= 3
    shown, _ = sidebar.bind("yui_pending")  # the same requester's other ticket
    assert _text(shown, "#crm-person h2") == "Contact"
    assert s.crm_calls.count(None, "/crm/v8/") == first
    assert s.zendesk_calls.count(None, "/api/v2/tickets/") == 0  # the requester from the local copy


def test_the_crm_down_slow_or_revoked_is_said_within_seconds(sidebar):
    s = sidebar.s
    _, page_token, zaf = sidebar.open("mori_open")
    _crm_fault(s, error_rate=1.0)
    calls = s.crm_calls.count(None, "/crm/v8/")
    shown = sidebar.panel("mori_open", page_token, query={"locale": zaf["currentUser.locale"]})
    token = shown.headers["X-Agent-Token"]
    assert shown.status_code == 200 and "not answering" in _text(shown, "#crm-unavailable")
    assert page(shown).select_one("#retry") is not None
    assert s.crm_calls.count(None, "/crm/v8/") == calls + 1  # one try, no retries to wait for
    _crm_fault(s, error_rate=0.0)
    # A CRM that holds our call (up to 30 s) and would then answer well: the panel has said it is not
    # answering, after one try, while the CRM still holds it.
    released = threading.Event()
    s.crm_calls.before("GET", "/crm/v8/", lambda path: released.wait(30))
    calls = s.crm_calls.count(None, "/crm/v8/")
    try:
        shown = sidebar.panel("mori_open", token)
        assert "not answering" in _text(shown, "#crm-unavailable")
        assert s.crm_calls.count(None, "/crm/v8/") == calls + 1
    finally:
        released.set()
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
    # Until the ZAF client answers, the page is in the browser's language...
    path, framework_token, zaf = sidebar.launch("yui_open")
    response = sidebar.post(path, framework_token, **{"Accept-Language": "ja,en-US;q=0.8"})
    assert page(response).html["lang"] == "ja"
    assert _text(response, "#agent-loading") == "Zoho CRM で顧客を検索しています…"
    # ... then in the agent's own, which ZAF tells (the sandbox's host: the agent's Zendesk locale).
    assert zaf["currentUser.locale"] == "ja"
    shown = sidebar.panel("yui_open", agent_token(response), query={"locale": zaf["currentUser.locale"]})
    assert _text(shown, "#crm-person h2") == "連絡先"
    assert _text(shown, "#crm-account h2") == "取引先"
    token = shown.headers["X-Agent-Token"]  # the locale goes with our token: Try again, Create Lead
    assert _text(sidebar.panel("yui_open", token), "#crm-person h2") == "連絡先"
    english = sidebar.post(*sidebar.launch("yui_open")[:2], **{"Accept-Language": "en-US"})
    assert page(english).html["lang"] == "en"


def test_uninstall_removes_the_app_from_zendesk(sidebar):
    from widget.lifecycle.uninstall import uninstall

    account = sidebar.s.account()
    market = sidebar.s.zendesk.state.marketplace
    assert len(market.of_account(account)) == 1
    result = uninstall(sidebar.installation())
    assert result.done, result.pending
    assert market.of_account(account) == []
    assert Link.query.count() == 0

