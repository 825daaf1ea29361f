"""The plan's per-minute budget (docs/outside-apis.md#zendesk-rate-limits): the client waits for the window to reset
before the account runs out, instead of running into 429s — against the sandbox's real per-plan limits."""
import requests

from widget.clients.http import RetryPolicy
from widget.clients.zendesk import ZendeskClient


def test_the_client_stays_under_the_plans_requests_per_minute(zendesk):
    zendesk.account().plan = "team"  # 200 requests a minute
    # The budget is per clock minute: start at the beginning of one, so that a minute ends only through
    # the client's waits, not because the test began late in a minute and real time crossed into the next.
    zendesk.state.clock.advance(60 - zendesk.state.clock.now() % 60)
    waits, statuses = [], []

    def sleep(seconds):  # waiting moves the sandbox's clock: no real minute goes by in the test
        waits.append(seconds)
        zendesk.state.clock.advance(seconds)

    session = requests.Session()
    session.auth = ("admin@acme.example/token", next(iter(zendesk.account().api_tokens)))
    session.hooks["response"].append(lambda response, *args, **kwargs: statuses.append(response.status_code))
    client = ZendeskClient(session, zendesk.url, policy=RetryPolicy(sleep=sleep))
    for _ in range(450):
        assert client.show_ticket(1)["id"] == 1
    assert statuses.count(429) == 0, "the budget ran out"
    assert len(statuses) == 450
    assert len(waits) == 2 and all(0 < wait <= 60 for wait in waits)  # one wait per spent minute


def test_without_rate_limit_headers_the_client_never_waits(zendesk):
    zendesk.state.rate_limits_enabled = False
    waits = []
    session = requests.Session()
    session.auth = ("admin@acme.example/token", next(iter(zendesk.account().api_tokens)))
    client = ZendeskClient(session, zendesk.url, policy=RetryPolicy(sleep=waits.append))
    for _ in range(250):
        client.show_ticket(1)
    assert waits == []
