"""The Zoho CRM client: pure parts (classify, URLs, DC map) here; end-to-end over real HTTP against
the CRM sandbox below."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from oauthlib.oauth2 import InsecureTransportError

from widget.clients import crm
from widget.clients.http import (AuthenticationError, InvalidRequest, NetworkError, NotFound, PermissionDenied,
                                 RateLimited, RetryPolicy, ServerError)
from widget.sandbox.crm import create_sandbox


def response(status, body=None, text=None):
    """A `requests.Response` as the CRM would send it (for the pure classify tests)."""
    built = requests.Response()
    built.status_code = status
    built._content = (json.dumps(body) if body is not None else (text or "")).encode()
    built.headers["Content-Type"] = "application/json;charset=UTF-8"
    return built


def envelope(code, message="m", **details):
    return {"code": code, "details": details, "message": message, "status": "error"}


# ---- classify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, error_type, code", [
    (401, envelope("INVALID_TOKEN", "invalid oauth token"), AuthenticationError, "INVALID_TOKEN"),
    (401, envelope("AUTHENTICATION_FAILURE"), AuthenticationError, "AUTHENTICATION_FAILURE"),
    (401, envelope("OAUTH_SCOPE_MISMATCH"), PermissionDenied, "OAUTH_SCOPE_MISMATCH"),
    (403, envelope("NO_PERMISSION"), PermissionDenied, "NO_PERMISSION"),
    (429, envelope("TOO_MANY_REQUESTS", limit_type="concurrency"), RateLimited, "TOO_MANY_REQUESTS"),
    (404, envelope("INVALID_URL_PATTERN"), NotFound, "INVALID_URL_PATTERN"),
    (400, envelope("MANDATORY_NOT_FOUND", api_name="Last_Name"), InvalidRequest, "MANDATORY_NOT_FOUND"),
    (400, envelope("DUPLICATE_DATA", api_name="Email"), InvalidRequest, "DUPLICATE_DATA"),
    (500, envelope("INTERNAL_ERROR"), ServerError, "INTERNAL_ERROR"),
    (502, None, ServerError, None),
])
def test_classify_maps_envelopes_to_typed_errors(status, body, error_type, code):
    error = crm.classify(response(status, body, text="<html>bad gateway</html>"))
    assert type(error) is error_type
    assert error.code == code and error.status == status


def test_classify_keeps_details_of_invalid_data():
    error = crm.classify(response(400, envelope("INVALID_DATA", "invalid data", api_name="Phone",
                                                expected_data_type="phone")))
    assert isinstance(error, InvalidRequest)
    assert error.details == {"api_name": "Phone", "expected_data_type": "phone"}


def test_classify_lets_through_successes_and_batches_whose_records_all_failed():
    assert crm.classify(response(200, {"data": []})) is None
    assert crm.classify(response(204)) is None
    assert crm.classify(response(207, {"data": [{"status": "success"}, {"status": "error"}]})) is None
    all_failed = {"data": [{"code": "MANDATORY_NOT_FOUND", "details": {}, "message": "m", "status": "error"}]}
    assert crm.classify(response(400, all_failed)) is None


def test_token_errors_arrive_as_http_200():
    error = crm.classify_token_response(response(200, {"error": "invalid_code"}))
    assert isinstance(error, AuthenticationError) and error.code == "invalid_code"
    throttled = crm.classify_token_response(response(200, {"error": "Access Denied",
                                                           "error_description": "too many requests"}))
    assert isinstance(throttled, RateLimited)
    assert crm.classify_token_response(response(200, {"access_token": "a", "expires_in": 3600})) is None


# ---- URLs and data centres ------------------------------------------------------------------------

def test_authorization_url_asks_for_offline_access_with_consent_on_the_dc_accounts_server():
    url = crm.authorization_url(crm.DATA_CENTRES["jp"].accounts_server, "client-1", "https://x.example/cb",
                                ["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL"], state="s1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.zoho.jp/oauth/v2/auth"
    assert parse_qs(parts.query) == {
        "scope": ["ZohoCRM.modules.ALL,ZohoCRM.settings.ALL"], "client_id": ["client-1"], "response_type": ["code"],
        "access_type": ["offline"], "prompt": ["consent"], "redirect_uri": ["https://x.example/cb"], "state": ["s1"]}

    no_state = parse_qs(urlsplit(crm.authorization_url("https://accounts.zoho.com", "c", "https://x.example/cb",
                                                       ["ZohoCRM.org.READ"])).query)
    assert len(no_state["state"][0]) >= 20, "requests-oauthlib adds a random state"


def test_the_compliance_hook_raises_typed_errors_for_http_200_token_errors():
    with pytest.raises(RateLimited):
        crm._raise_for_token_error(response(200, {"error": "Access Denied", "error_description": "too many"}))
    with pytest.raises(AuthenticationError):
        crm._raise_for_token_error(response(200, {"error": "invalid_client"}))
    with pytest.raises(ServerError):
        crm._raise_for_token_error(response(503, text="unavailable"))
    fine = response(200, {"access_token": "a", "expires_in": 3600})
    assert crm._raise_for_token_error(fine) is fine


def test_production_data_centres():
    assert set(crm.DATA_CENTRES) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa"}
    assert crm.DATA_CENTRES["ca"] == crm.DataCentre("https://accounts.zohocloud.ca", "https://www.zohoapis.ca",
                                                    "https://crm.zohocloud.ca")
    assert crm.DATA_CENTRES["us"].api_domain == "https://www.zohoapis.com"


def test_sandbox_data_centres_share_one_origin():
    centres = crm.data_centres("http://127.0.0.1:5002/")
    assert centres["jp"] == crm.DataCentre("http://127.0.0.1:5002/accounts/jp", "http://127.0.0.1:5002/api/jp",
                                           "http://127.0.0.1:5002")
    assert crm.data_centres("") is crm.DATA_CENTRES


def test_an_unknown_accounts_server_never_gets_the_client_secret():
    assert crm.known_accounts_server("https://accounts.zoho.in/") == "in"
    with pytest.raises(InvalidRequest):
        crm.known_accounts_server("https://accounts.evil.example")


# ---- end to end, over real HTTP against the CRM sandbox ------------------------------------------

class CountingSession(requests.Session):
    """A real session that also records each request and the most calls it ever had in flight."""

    def __init__(self, pool=30):
        super().__init__()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=pool)
        self.mount("http://", adapter)
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0
        self.calls = []  # (method, url, params, status)

    def request(self, method, url, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        answer = None
        try:
            answer = super().request(method, url, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1
                status = answer.status_code if answer is not None else None  # None: no answer (timeout)
                self.calls.append((method, url, dict(kwargs.get("params") or {}), status))
        return answer

    def statuses(self):
        return [status for *_, status in self.calls]


def quick_policy(**overrides):
    """Real back-off shape, tiny delays (tests stay fast)."""
    return RetryPolicy(**{"base_delay": 0.01, "max_delay": 0.05, "timeout": 10, **overrides})


@pytest.fixture
def sandbox(monkeypatch, serve):
    """The CRM sandbox with an org in the US and JP data centres, on a free port."""
    # requests-oauthlib refuses http:// URLs unless this is set; the sandbox is plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox = serve(create_sandbox(data_centres=("us", "jp")))
    sandbox.creds = sandbox.credentials(sandbox.url)
    return sandbox


def control(sandbox, path, **body):
    answer = requests.post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def make_client(sandbox, dc="us", session=None, token=None, on_token=None, **options):
    """A CrmClient as the product builds it: a token refreshed from the stored refresh token."""
    centre = sandbox.creds["data_centres"][dc]
    session = session or CountingSession()
    policy = options.pop("policy", quick_policy())
    if token is None:
        token = crm.refresh_token(session, centre["accounts_url"], {"refresh_token": centre["refresh_token"]},
                                  centre["client_id"], centre["client_secret"], policy)
    return crm.CrmClient(session, token["api_domain"], token, on_token=on_token, accounts_server=centre["accounts_url"],
                         client_id=centre["client_id"], client_secret=centre["client_secret"], policy=policy,
                         **{"max_concurrency": 20, **options})


def submit(browser, page, **fields):
    """Submit the first form of `page` like a browser (hidden inputs plus `fields`); no redirect follow."""
    form = BeautifulSoup(page.text, "html.parser").find("form")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    data.update(fields)
    return browser.post(urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=5)


def consent_redirect(sandbox, start_dc, user_dc):
    """Sign in on `start_dc`'s accounts server as `user_dc`'s admin and accept; the redirect's query."""
    centres = crm.data_centres(sandbox.url)
    user = sandbox.creds["data_centres"][user_dc]["users"][0]
    url = crm.authorization_url(centres[start_dc].accounts_server, sandbox.creds["client_id"],
                                "http://127.0.0.1:9/callback", ["ZohoCRM.modules.ALL", "ZohoCRM.org.READ"], state="st")
    browser = requests.Session()
    signin = browser.get(url, timeout=5)
    assert "password" in signin.text
    signed_in = submit(browser, signin, email=user["email"], password=user["password"])
    consent = browser.get(urljoin(signin.url, signed_in.headers["Location"]), timeout=5)
    redirect = submit(browser, consent, decision="accept")
    assert redirect.status_code == 302
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def test_code_is_exchanged_on_the_accounts_server_the_redirect_names(sandbox):
    session, creds = CountingSession(), sandbox.creds
    redirect = consent_redirect(sandbox, start_dc="us", user_dc="jp")
    assert redirect["location"] == "jp" and redirect["state"] == "st"
    assert crm.known_accounts_server(redirect["accounts-server"], crm.data_centres(sandbox.url)) == "jp"

    # The US accounts server does not know a JP code.
    with pytest.raises(AuthenticationError) as refused:
        crm.exchange_code(session, f"{sandbox.url}/accounts/us", redirect["code"], creds["client_id"],
                          creds["client_secret"], "http://127.0.0.1:9/callback")
    assert refused.value.code == "invalid_code"

    token = crm.exchange_code(session, redirect["accounts-server"], redirect["code"], creds["client_id"],
                              creds["client_secret"], "http://127.0.0.1:9/callback")
    assert token["api_domain"] == f"{sandbox.url}/api/jp"
    assert token["refresh_token"] and token["expires_at"] > 0
    # Asked comma-separated, answered space-separated: no scope-change Warning (an error here).
    assert token["scope"] == ["ZohoCRM.modules.ALL", "ZohoCRM.org.READ"]
    jp = crm.CrmClient(session, token["api_domain"], token)
    assert jp.org()["company_name"] == "Zylker Japan K.K."
    assert session.calls[-1][1] == f"{sandbox.url}/api/jp/crm/v8/org"

    # The JP token is refused by the US data centre.
    with pytest.raises(AuthenticationError) as wrong_dc:
        crm.CrmClient(session, f"{sandbox.url}/api/us", token).org()
    assert wrong_dc.value.code == "INVALID_TOKEN"

    # A code is one-time: exchanging it again fails.
    with pytest.raises(AuthenticationError):
        crm.exchange_code(session, redirect["accounts-server"], redirect["code"], creds["client_id"],
                          creds["client_secret"], "http://127.0.0.1:9/callback")


def test_expired_token_is_refreshed_once_and_persisted(sandbox):
    saved = []
    client = make_client(sandbox, on_token=saved.append)
    first = dict(client.token)
    assert client.org()["company_name"] == "Zylker Corp"

    control(sandbox, "clock", advance=3601)  # the sandbox now thinks the access token expired
    with ThreadPoolExecutor(8) as pool:
        companies = list(pool.map(lambda _: client.org()["company_name"], range(8)))
    assert companies == ["Zylker Corp"] * 8
    assert len(saved) == 1, "parallel calls share one refresh"
    assert saved[0]["access_token"] != first["access_token"]
    assert saved[0]["refresh_token"] == first["refresh_token"], "Zoho's refresh answer has no refresh token"
    assert client.session.statuses().count(401) >= 1

    # Known to be expiring: refreshed before the call, no 401 on the way.
    client.token["expires_at"] = 0
    calls_before = len(client.session.calls)
    client.current_user()
    assert len(saved) == 2
    assert 401 not in client.session.statuses()[calls_before:]


def test_revoked_refresh_token_surfaces_as_authentication_error(sandbox):
    client = make_client(sandbox)
    client.revoke_refresh_token()
    with pytest.raises(AuthenticationError):
        client.org()  # the access token went with the grant, and refreshing fails too


def add_leads(sandbox, count, dc="us"):
    org = sandbox.org(dc)
    items = [{"Last_Name": f"Lead {n}", "Email": f"lead{n}@bulk.example"} for n in range(count)]
    results = org.insert_records(org.module("Leads"), items, org.admin(), notify=False)
    assert not [r for r in results if not isinstance(r, dict)]


def test_list_records_pages_past_2000_with_page_token(sandbox):
    add_leads(sandbox, 5000)
    client = make_client(sandbox)
    leads = list(client.list_records("Leads", ["Last_Name", "Email"]))
    emails = {lead["Email"] for lead in leads if lead["Email"].endswith("@bulk.example")}
    assert len(emails) == 5000
    assert len({lead["id"] for lead in leads}) == len(leads)
    pages = [params for method, url, params, status in client.session.calls if url.endswith("/crm/v8/Leads")]
    by_page = [p for p in pages if "page" in p]
    by_token = [p for p in pages if "page_token" in p]
    assert [p["page"] for p in by_page] == list(range(1, 11))
    assert len(by_token) == len(pages) - 10 and len(by_token) >= 15
    assert all(status == 200 for *_, status in client.session.calls)


def test_empty_module_lists_nothing(sandbox):
    client = make_client(sandbox)
    assert list(client.list_records("Deals", ["Deal_Name"])) == []
    assert client.session.statuses()[-1] == 204


def contacts(count, start=0, domain="up.example"):
    return [{"Last_Name": f"Person {n}", "Email": f"person{n}@{domain}"} for n in range(start, start + count)]


def test_upsert_of_250_takes_three_calls_and_reports_each_record(sandbox):
    client = make_client(sandbox)
    records = contacts(250)
    del records[137]["Last_Name"]  # mandatory
    results = client.upsert_records("Contacts", records, ["Email"])

    assert len(results) == 250
    upserts = [c for c in client.session.calls if c[1].endswith("/Contacts/upsert")]
    assert len(upserts) == 3
    failed = [i for i, r in enumerate(results) if not r.ok]
    assert failed == [137]
    assert results[137].code == "MANDATORY_NOT_FOUND" and results[137].details["api_name"] == "Last_Name"
    assert all(r.action == "insert" and r.id for i, r in enumerate(results) if i != 137)
    email_of = {c["id"]: c["Email"] for c in client.list_records("Contacts", ["Email"])}
    assert all(email_of[r.id] == records[i]["Email"] for i, r in enumerate(results) if r.ok), "input order kept"


def test_duplicate_check_fields_prevent_duplicates(sandbox):
    client = make_client(sandbox)
    first = client.upsert_records("Contacts", contacts(150), ["Email"])
    again = client.upsert_records("Contacts", [{**c, "Last_Name": "Renamed"} for c in contacts(150)], ["Email"])
    assert [r.action for r in again] == ["update"] * 150
    assert [r.id for r in again] == [r.id for r in first]
    listed = [c for c in client.list_records("Contacts", ["Last_Name", "Email"]) if c["Email"].endswith("@up.example")]
    assert len(listed) == 150 and {c["Last_Name"] for c in listed} == {"Renamed"}


def test_insert_update_and_delete_in_batches(sandbox):
    client = make_client(sandbox)
    inserted = client.insert_records("Leads", [{"Last_Name": f"L{n}"} for n in range(120)])
    assert all(r.ok for r in inserted)
    updated = client.update_records("Leads", [{"id": r.id, "Company": "Hooli"} for r in inserted])
    assert all(r.ok for r in updated)
    assert client.get_record("Leads", inserted[0].id)["Company"] == "Hooli"
    deleted = client.delete_records("Leads", [r.id for r in inserted])
    assert [r.id for r in deleted] == [r.id for r in inserted]
    assert client.get_record("Leads", inserted[0].id) is None
    deletes = [c for c in client.session.calls if c[0] == "DELETE"]
    assert len(deletes) == 2 and len(deletes[0][2]["ids"].split(",")) == 100


def test_custom_module_created_then_deleted(sandbox):
    client = make_client(sandbox)
    profile = client.current_user()["profile"]["id"]
    created = client.create_custom_module("Zendesk Ticket", "Zendesk Tickets", [profile], api_name="Zendesk_Tickets")
    assert created["api_name"] == "Zendesk_Tickets" and created["id"]
    assert "Zendesk_Tickets" in [m["api_name"] for m in client.list_modules()]
    assert "Name" in [f["api_name"] for f in client.list_fields("Zendesk_Tickets")]
    stored = client.upsert_records("Zendesk_Tickets", [{"Name": "Ticket 1"}], ["Name"])
    assert stored[0].ok

    with pytest.raises(InvalidRequest) as twice:
        client.create_custom_module("Zendesk Ticket", "Zendesk Tickets", [profile], api_name="Zendesk_Tickets")
    assert twice.value.code == "DUPLICATE_DATA"

    client.delete_custom_module("Zendesk_Tickets")
    assert "Zendesk_Tickets" not in [m["api_name"] for m in client.list_modules()]
    with pytest.raises(InvalidRequest) as gone:
        list(client.list_records("Zendesk_Tickets", ["Name"]))
    assert gone.value.code == "INVALID_MODULE"


def test_parallel_upserts_stay_under_the_edition_concurrency(sandbox):
    control(sandbox, "orgs/us/edition", edition="free")  # 5 concurrent calls
    control(sandbox, "faults", latency=0.05)
    # attempts=1: a single TOO_MANY_REQUESTS would fail the upsert.
    client = make_client(sandbox, max_concurrency=crm.EDITION_CONCURRENCY["free"], policy=quick_policy(attempts=1))
    # Three sync jobs share the client at once: the limit holds across them, not just within one call.
    with ThreadPoolExecutor(3) as jobs:
        runs = list(jobs.map(lambda n: client.upsert_records("Contacts", contacts(500, start=n * 500), ["Email"]),
                             range(3)))
    assert [len(results) for results in runs] == [500] * 3
    assert all(r.ok for results in runs for r in results)
    assert 429 not in client.session.statuses()
    assert client.session.peak == 5, "batches ran in parallel, never above the edition's limit"


def test_heavy_calls_stay_under_the_sub_concurrency(sandbox):
    control(sandbox, "faults", latency=0.05)  # enterprise: 20 calls, of which 10 heavy
    client = make_client(sandbox, max_concurrency=20, policy=quick_policy(attempts=1))
    results = client.upsert_records("Contacts", contacts(2000), ["Email"])
    assert all(r.ok for r in results)
    assert client.session.peak == crm.SUB_CONCURRENCY


def test_backs_off_when_the_crm_says_too_many_requests(sandbox):
    control(sandbox, "orgs/us/edition", edition="free")
    control(sandbox, "faults", latency=0.2)
    sleeps = []
    policy = quick_policy(attempts=10, sleep=lambda seconds: (sleeps.append(seconds), threading.Event().wait(seconds)))
    client = make_client(sandbox, max_concurrency=10, policy=policy)  # more than the free edition allows
    results = client.upsert_records("Contacts", contacts(1000), ["Email"])
    assert all(r.ok for r in results)
    assert client.session.statuses().count(429) >= 1 and len(sleeps) >= 1
    with pytest.raises(RateLimited):  # with no retries left, the limit reaches the caller typed
        make_client(sandbox, max_concurrency=10, policy=quick_policy(attempts=1)).upsert_records(
            "Contacts", contacts(1000), ["Email"])


def test_remaining_daily_credits_are_read_from_the_answers(sandbox):
    client = make_client(sandbox)
    client.org()
    assert client.credits_remaining is None  # the CRM says nothing below half the day's credits
    daily = control(sandbox, "orgs/us/credits", used=0)["daily_credits"]
    control(sandbox, "orgs/us/credits", used=daily - 100)
    client.org()
    assert client.credits_remaining == 98  # the two org() calls cost one credit each


def test_search_coql_related_users_and_fields(sandbox):
    client = make_client(sandbox)
    account = client.insert_records("Accounts", [{"Account_Name": "Minato Bank"}])[0]
    added = client.insert_records("Contacts", [{"Last_Name": "Sato", "Email": "sato@minato.example",
                                                "Account_Name": {"id": account.id}}])[0]
    found = list(client.search_records("Contacts", email="sato@minato.example"))
    assert [c["id"] for c in found] == [added.id]
    assert [c["id"] for c in client.search_records("Contacts", criteria="(Last_Name:equals:Sato)")] == [added.id]
    rows = client.coql("select Last_Name, Email from Contacts where Email = 'sato@minato.example' limit 10")
    assert [r["id"] for r in rows] == [added.id]
    related = list(client.related_records("Accounts", account.id, "Contacts", ["Last_Name"]))
    assert [r["id"] for r in related] == [added.id]
    assert "Email" in [f["api_name"] for f in client.list_fields("Contacts")]
    assert client.current_user()["email"] == "admin@us.zylker.example"
    assert len(list(client.list_users())) == 4
    with pytest.raises(ValueError):
        client.search_records("Contacts")


def test_notification_channel_lifecycle(sandbox):
    client = make_client(sandbox)
    details = client.enable_watch(1000000068001, ["Contacts.all"], "http://127.0.0.1:9/notify", token="t1")
    assert details["events"][0]["resource_name"] == "Contacts"
    assert [str(w["channel_id"]) for w in client.list_watch()] == ["1000000068001"]
    client.update_watch(1000000068001, notify_url="http://127.0.0.1:9/notify2")
    assert client.list_watch()[0]["notify_url"] == "http://127.0.0.1:9/notify2"
    client.disable_watch([1000000068001])
    assert client.list_watch() == []


def test_refresh_refused_in_http_200_is_an_authentication_error_and_not_retried(sandbox):
    centre, sleeps = sandbox.creds["data_centres"]["us"], []
    with pytest.raises(AuthenticationError) as refused:
        crm.refresh_token(CountingSession(), centre["accounts_url"], {"refresh_token": centre["refresh_token"]},
                          centre["client_id"], "wrong-secret", quick_policy(sleep=sleeps.append))
    assert refused.value.code == "invalid_client_secret"
    assert sleeps == []


def test_oauth_refuses_plain_http_unless_the_environment_allows_it(sandbox, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    centre = sandbox.creds["data_centres"]["us"]
    with pytest.raises(InsecureTransportError):  # a configuration error, not a refused grant
        crm.refresh_token(CountingSession(), centre["accounts_url"], {"refresh_token": centre["refresh_token"]},
                          centre["client_id"], centre["client_secret"], quick_policy())


# ---- writes hit by faults: repeat what is safe to repeat, never duplicate an insert -------------------

class PassingOutage(CountingSession):
    """A real session whose first failure (a 5xx, or no answer in time) ends the sandbox's injected
    faults, as a short outage would end."""

    def __init__(self, sandbox):
        super().__init__()
        self.sandbox = sandbox

    def request(self, method, url, **kwargs):
        try:
            answer = super().request(method, url, **kwargs)
        except requests.Timeout:
            control(self.sandbox, "faults", error_rate=0, latency=0)
            raise
        if answer.status_code >= 500:
            control(self.sandbox, "faults", error_rate=0, latency=0)
        return answer


def emails_listed(client, domain):
    return sorted(c["Email"] for c in client.list_records("Contacts", ["Email"]) if c["Email"].endswith(domain))


def test_an_upsert_hit_by_a_5xx_is_retried_and_ends_exact(sandbox):
    client = make_client(sandbox, session=PassingOutage(sandbox))
    control(sandbox, "faults", error_rate=1)
    results = client.upsert_records("Contacts", contacts(150), ["Email"])

    upserts = [status for method, url, _, status in client.session.calls if url.endswith("/Contacts/upsert")]
    assert 500 in upserts and upserts.count(201) + upserts.count(200) == 2
    assert all(r.ok for r in results) and len({r.id for r in results}) == 150
    assert emails_listed(client, "@up.example") == sorted(c["Email"] for c in contacts(150))


def test_an_upsert_whose_answer_was_lost_is_retried_and_updates_instead_of_duplicating(sandbox):
    # The sandbox sleeps `latency` after the write: the client times out on a batch the CRM stored.
    client = make_client(sandbox, session=PassingOutage(sandbox), policy=quick_policy(timeout=0.5))
    control(sandbox, "faults", latency=2)
    results = client.upsert_records("Contacts", contacts(150), ["Email"])

    assert None in client.session.statuses(), "a call went unanswered"
    assert all(r.ok for r in results) and len({r.id for r in results}) == 150
    assert "update" in {r.action for r in results}, "the retry found the records its lost try had stored"
    assert emails_listed(client, "@up.example") == sorted(c["Email"] for c in contacts(150))


def test_an_insert_hit_by_a_5xx_is_not_retried(sandbox):
    client = make_client(sandbox)
    control(sandbox, "faults", error_rate=1)  # every call fails: a blind retry would be seen as a 2nd POST
    with pytest.raises(ServerError):
        client.insert_records("Contacts", contacts(5, domain="ins.example"))
    inserts = [c for c in client.session.calls if c[0] == "POST" and c[1].endswith("/crm/v8/Contacts")]
    assert [status for *_, status in inserts] == [500]

    control(sandbox, "faults", error_rate=0)
    assert emails_listed(client, "@ins.example") == []


def test_an_insert_whose_answer_was_lost_is_not_repeated(sandbox):
    client = make_client(sandbox, session=PassingOutage(sandbox), policy=quick_policy(timeout=0.5))
    control(sandbox, "faults", latency=2)
    with pytest.raises(NetworkError):
        client.insert_records("Contacts", contacts(5, domain="ins.example"))
    inserts = [c for c in client.session.calls if c[0] == "POST" and c[1].endswith("/crm/v8/Contacts")]
    assert [status for *_, status in inserts] == [None]
    # The CRM stored the records once; the caller learns it by reading, not by inserting again.
    assert emails_listed(client, "@ins.example") == sorted(c["Email"] for c in contacts(5, domain="ins.example"))
