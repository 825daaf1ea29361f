"""Agent sidebar fixtures: the record widget's company (tests/record/conftest.py), synced between both
sandboxes over real HTTP, with our sidebar app published in the Zendesk sandbox and installed into the
account the way authorizing Zendesk does (widget/agent/installing.py).

`sidebar.open(name)` signs in to the sandbox's agent UI, opens the ticket `name` there and replays its
signed first POST into the extension, as the agent's browser would; `sidebar.panel(...)` asks for the
panel with the page's token, as htmx does.
"""
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from tests.record.conftest import company, crm_sandbox, synced_installation, zendesk_sandbox  # noqa: F401
from tests.sandbox.zendesk.test_agent_ui import sign_in
from widget.agent.installing import install_sidebar
from widget.connections import zendesk_client
from widget.extensions import db

SIDEBAR_PATH = "/zendesk/sidebar"


@dataclass
class Sidebar:
    company: object
    app: object  # the sandbox's MarketplaceApp
    browser: object  # a requests session signed in to the agent UI

    @property
    def s(self):
        return self.company.s

    def installation(self):
        return self.s.installation()

    def launch(self, name):
        """(path with query, token) of the signed POST the agent UI's ticket page makes for ticket `name`."""
        ticket_id = self.company.tickets.get(name, name)
        page = BeautifulSoup(self.browser.get(f"{self.s.zendesk.url}/agent/tickets/{ticket_id}").text, "html.parser")
        form = page.select_one("aside.apps-sidebar form.app-launch")
        action = urlsplit(form["action"])
        return f"{action.path}?{action.query}", form.select_one("input[name=token]")["value"]

    def post(self, path, token):
        with self.s.app.app_context():
            return self.s.app.test_client().post(path, data={"token": token})

    def open(self, name):
        """The page the signed first request answers, and the token of ours it holds."""
        path, token = self.launch(name)
        response = self.post(path, token)
        assert response.status_code == 200, response.data
        return response, agent_token(response)

    def panel(self, name, token, method="get", suffix="", **kwargs):
        ticket_id = self.company.tickets.get(name, name)
        with self.s.app.app_context():
            client = self.s.app.test_client()
            return getattr(client, method)(f"{SIDEBAR_PATH}/tickets/{ticket_id}{suffix}",
                                           headers={"X-Agent-Token": token, "HX-Request": "true"}, **kwargs)


def agent_token(response):
    body = BeautifulSoup(response.data, "html.parser").body
    return re.search(r'"X-Agent-Token": "([^"]+)"', body["hx-headers"]).group(1)


def page(response):
    return BeautifulSoup(response.data, "html.parser")


@pytest.fixture
def sidebar(company):  # noqa: F811
    s = company.s
    app = s.zendesk.publish_app("Zoho CRM", f"http://127.0.0.1:9{SIDEBAR_PATH}")
    s.app.config["ZENDESK_APP_ID"] = str(app.id)
    installation = s.installation()
    assert install_sidebar(installation, zendesk_client(installation)) is None
    db.session.commit()
    browser, answer = sign_in(s.zendesk.url)
    assert answer.status_code == 200
    s.crm_calls.reset()
    s.zendesk_calls.reset()
    yield Sidebar(company, app, browser)
    browser.close()
