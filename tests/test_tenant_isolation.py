"""Tenant isolation on every route: a widget context signed for org A opens nothing of org B.

The routes are read from the app's URL map, so a route added later is covered (or this test fails
until it is classified below)."""
import re

import pytest

from tests.helpers import ADMIN, install
from widget.sandbox.crm.signing import mint_context

# Routes authorised by something other than the widget context, and why.
NOT_CONTEXT_ROUTES = {
    "static": "public assets",
    "ops.healthz": "public health check",
    "ops.metrics": "service-wide counts, no tenant data; METRICS_TOKEN (tests/ops)",
    "lifecycle.install": "marketplace signature (tests/lifecycle)",
    "lifecycle.permissions": "marketplace signature (tests/lifecycle)",
    "lifecycle.uninstall": "marketplace signature (tests/lifecycle)",
    "settings.zendesk_callback": "signed OAuth state bound to the installation (tests/settings)",
    "settings.crm_callback": "signed OAuth state bound to the installation (tests/settings)",
    "webhooks.zendesk": "webhook signature and installation key (tests/webhooks)",
    "webhooks.crm": "channel token and installation key (tests/webhooks)",
    "agent.open_sidebar": "Zendesk's RS256-signed request naming the account and app installation (tests/agent)",
    "agent.ticket_panel": "our agent token, signed per installation and bound to it (tests/agent)",
    "agent.create_lead": "our agent token, signed per installation and bound to it (tests/agent)",
}
SAMPLE_VALUES = {"entity": "Contacts", "record_id": "42", "ticket_id": "1"}


def _context_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_CONTEXT_ROUTES:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", SAMPLE_VALUES[name], path)  # <name>, <int:name>, <id:name>
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, path))
    return routes


def test_every_route_is_classified(app):
    assert _context_routes(app), "no widget-context routes found"
    for rule in app.url_map.iter_rules():
        assert rule.endpoint in NOT_CONTEXT_ROUTES or set(rule.arguments) <= set(SAMPLE_VALUES), rule


@pytest.mark.parametrize("forgery", ["claims_other_org", "no_context", "other_orgs_secret"])
def test_a_context_for_one_org_opens_nothing_of_another(app, client, forgery):
    org_a = install(client, org_id="org-a")
    org_b = install(client, org_id="org-b")
    tokens = {
        # Signed with A's secret but claiming to be B.
        "claims_other_org": mint_context(org_a["context_secret"], "org-b", ADMIN, "Contacts", "42"),
        "no_context": None,
        # B's own secret used for a context claiming A.
        "other_orgs_secret": mint_context(org_b["context_secret"], "org-a", ADMIN, "Contacts", "42"),
    }
    token = tokens[forgery]
    for endpoint, method, path in _context_routes(app):
        headers = {"X-Widget-Context": token} if token else {}
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401, (endpoint, method, response.status_code)
        assert b"org-b" not in response.data and b"org-a" not in response.data
