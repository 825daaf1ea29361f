"""Plans, per-plan rate limits and fault injection of the Zendesk sandbox, over real HTTP
(docs/outside-apis.md#zendesk-rate-limits, docs/outside-apis.md#zendesk-errors; the plan endpoint: GET
/api/v2/account/subscription)."""
import time

import pytest
import requests

from widget.sandbox.zendesk import create_sandbox
from widget.sandbox.zendesk.state import PLANS, Grant

ADMIN = "admin@acme.example"


def api_token_auth(sandbox):
    return (f"{ADMIN}/token", next(iter(sandbox.account().api_tokens)))


def control(sandbox, path, body):
    response = requests.post(f"{sandbox.url}/_sandbox/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def fresh_minute(sandbox):
    """Move the sandbox clock to just after a minute boundary, so a burst stays inside one window."""
    now = sandbox.state.clock.now()
    control(sandbox, "clock", {"advance": 60 - now % 60 + 0.5})


@pytest.fixture
def session(zendesk):
    with requests.Session() as s:
        s.auth = api_token_auth(zendesk)
        yield s


def get(zendesk, session, path="users/me.json"):
    return session.get(f"{zendesk.url}/api/v2/{path}")


# ---- plans ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("plan, name, limit", [
    ("trial", "Trial", 400), ("team", "Team", 200), ("professional", "Professional", 400),
    ("enterprise", "Enterprise", 700), ("expired", "Expired", 200), ("free", "Free", 200)])
def test_plan_endpoint_names_each_plan(zendesk, session, plan, name, limit):
    control(zendesk, "accounts/acme/plan", {"plan": plan})
    response = get(zendesk, session, "account/subscription.json")
    assert response.status_code == 200
    subscription = response.json()["subscription"]
    assert subscription["plan_name"] == name and subscription["plan_type"] == plan
    assert subscription["is_trial"] is (plan == "trial")
    assert (subscription["trial_expires_on"] is not None) is (plan == "trial")
    assert response.headers["X-Rate-Limit"] == str(limit)


@pytest.mark.parametrize("plan", ["trial", "team", "professional", "enterprise"])
def test_paid_plans_use_the_api(zendesk, session, plan):
    control(zendesk, "accounts/acme/plan", {"plan": plan})
    assert get(zendesk, session, "tickets.json").status_code == 200


@pytest.mark.parametrize("plan, words", [("expired", "expired"), ("free", "free plan")])
def test_unpaid_plans_are_refused_except_what_explains_it(zendesk, session, plan, words):
    control(zendesk, "accounts/acme/plan", {"plan": plan})
    refused = get(zendesk, session, "tickets.json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "Forbidden" and words in refused.json()["description"]
    assert session.post(f"{zendesk.url}/api/v2/tickets.json",
                        json={"ticket": {"subject": "x", "comment": {"body": "y"}}}).status_code == 403
    assert get(zendesk, session, "account/subscription.json").status_code == 200
    assert get(zendesk, session, "users/me.json").status_code == 200


def test_plan_endpoint_needs_read_scope(zendesk):
    grant_token = _narrow_token(zendesk, "tickets:read")
    response = requests.get(f"{zendesk.url}/api/v2/account/subscription.json",
                            headers={"Authorization": f"Bearer {grant_token}"})
    assert response.status_code == 403


def _narrow_token(sandbox, scope):
    """A token issued straight into the state (the OAuth flow itself is tested in test_oauth.py)."""
    account, now = sandbox.account(), sandbox.state.clock.now()
    admin = account.find_user(email=ADMIN)
    account.grants["t" * 40] = Grant("t" * 40, "r" * 40, "zendesk_for_zoho_crm", admin["id"], scope,
                                     now + 600, now + 6000, now)
    return "t" * 40


# ---- rate limits ---------------------------------------------------------------------------------
def test_headers_count_down_then_429_with_retry_after(zendesk, session):
    control(zendesk, "accounts/acme/plan", {"plan": "team"})
    fresh_minute(zendesk)
    first = get(zendesk, session)
    assert first.headers["X-Rate-Limit"] == "200" and first.headers["X-Rate-Limit-Remaining"] == "199"
    assert first.headers["ratelimit-limit"] == "200" and first.headers["ratelimit-remaining"] == "199"
    assert 1 <= int(first.headers["ratelimit-reset"]) <= 60
    for _ in range(199):
        last = get(zendesk, session)
        assert last.status_code == 200
    assert last.headers["X-Rate-Limit-Remaining"] == "0"

    limited = get(zendesk, session)
    assert limited.status_code == 429
    assert limited.json() == {"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-Rate-Limit"] == "200" and limited.headers["X-Rate-Limit-Remaining"] == "0"

    control(zendesk, "clock", {"advance": 60})  # the next minute has a fresh budget
    assert get(zendesk, session).status_code == 200


def test_budget_is_per_account(serve):
    sandbox = serve(create_sandbox(accounts=("acme", "globex"), plan="team"))
    with requests.Session() as acme, requests.Session() as globex:
        acme.auth = api_token_auth(sandbox)
        globex.auth = ("admin@globex.example/token", next(iter(sandbox.account("globex").api_tokens)))
        fresh_minute(sandbox)
        for _ in range(200):
            get(sandbox, acme)
        assert get(sandbox, acme).status_code == 429
        response = get(sandbox, globex)
        assert response.status_code == 200 and response.headers["X-Rate-Limit-Remaining"] == "199"


def test_limits_can_be_switched_off(zendesk, session):
    control(zendesk, "accounts/acme/plan", {"plan": "team"})
    fresh_minute(zendesk)
    assert control(zendesk, "rate_limits", {"enabled": False}) == {"enabled": False}
    for _ in range(230):
        response = get(zendesk, session)
        assert response.status_code == 200
    assert response.headers["X-Rate-Limit"] == "200"
    control(zendesk, "rate_limits", {"enabled": True})
    fresh_minute(zendesk)
    assert get(zendesk, session).headers["X-Rate-Limit-Remaining"] == "199"


def test_incremental_exports_allow_ten_a_minute(zendesk, session):
    fresh_minute(zendesk)
    path = "incremental/tickets/cursor.json?start_time=0"
    for _ in range(10):
        assert get(zendesk, session, path).status_code != 429
    limited = get(zendesk, session, path)
    assert limited.status_code == 429
    assert limited.json() == {"error": "APIRateLimitExceeded",
                              "description": "Number of allowed incremental export API requests per minute exceeded"}
    assert "Retry-After" in limited.headers
    assert get(zendesk, session, "users/me.json").status_code == 200  # other endpoints still have budget


# ---- faults --------------------------------------------------------------------------------------
def test_injected_500s(zendesk, session):
    control(zendesk, "faults", {"error_rate": 1})
    response = get(zendesk, session)
    assert response.status_code == 500 and response.json()["error"] == "InternalError"


def test_injected_429s_carry_retry_after(zendesk, session):
    control(zendesk, "faults", {"rate_limit_rate": 1})
    response = get(zendesk, session)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "APIRateLimitExceeded"


def test_injected_drops_close_the_socket_without_a_response(zendesk):
    control(zendesk, "faults", {"drop_rate": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{zendesk.url}/api/v2/users/me.json", auth=api_token_auth(zendesk), timeout=5)
    control(zendesk, "faults", {"drop_rate": 0})
    assert requests.get(f"{zendesk.url}/api/v2/users/me.json", auth=api_token_auth(zendesk)).status_code == 200


def test_injected_share_of_errors_is_roughly_the_asked_share(zendesk, session):
    control(zendesk, "rate_limits", {"enabled": False})
    control(zendesk, "faults", {"error_rate": 0.5})
    statuses = [get(zendesk, session).status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


def test_injected_latency(zendesk, session):
    control(zendesk, "faults", {"latency": 0.3})
    started = time.monotonic()
    assert get(zendesk, session).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_do_not_touch_the_control_endpoints(zendesk):
    control(zendesk, "faults", {"error_rate": 1, "drop_rate": 0})
    assert control(zendesk, "faults", {"error_rate": 0})["error_rate"] == 0


@pytest.mark.parametrize("body", [{"nonsense": 1}, {"error_rate": 2}, {"latency": -1}, {"drop_rate": "x"},
                                  {"error_rate": True}])
def test_fault_settings_are_validated(zendesk, body):
    response = requests.post(f"{zendesk.url}/_sandbox/faults", json=body)
    assert response.status_code == 400 and response.json()["error"] == "invalid"


def test_plan_switch_is_validated(zendesk):
    response = requests.post(f"{zendesk.url}/_sandbox/accounts/acme/plan", json={"plan": "platinum"})
    assert response.status_code == 400
    assert set(PLANS) == {"trial", "team", "professional", "enterprise", "expired", "free"}
