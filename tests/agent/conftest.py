"""Agent sidebar fixtures: the record widget's company (tests/record/conftest.py), synced between both
sandboxes over real HTTP, with our sidebar app published in the Zendesk sandbox and installed into the
account the way authorizing Zendesk does (widget/agent/installing.py).

`sidebar.open(name)` signs in to the sandbox's agent UI, opens the ticket `name` there and replays its
signed first POST into the extension, as the agent's browser would; `sidebar.bind(name)` then does what
the page's script does (static/js/agent_sidebar.js): it takes the ticket id and the agent's locale from
what the sandbox's ZAF host tells the app (the iframe's `data-zaf`; the browser test goes through the
SDK itself) and asks for the panel with the page's token, which answers a token bound to the ticket;
`sidebar.panel(...)` asks for the panel with a token, as htmx does.
"""
import json
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
        """(path with query, token, ZAF answers) of the signed POST the agent UI's ticket page makes for
        ticket `name`, and what its ZAF host tells the app (the `data` of `client.get`)."""
        ticket_id = self.company.tickets.get(name, name)
        page = BeautifulSoup(self.browser.get(f"{self.s.zendesk.url}/agent/tickets/{ticket_id}").text, "html.parser")
        form = page.select_one("aside.apps-sidebar form.app-launch")
        action = urlsplit(form["action"])
        zaf = json.loads(page.select_one(f"iframe[name={form['target']}]")["data-zaf"])
        return f"{action.path}?{action.query}", form.select_one("input[name=token]")["value"], zaf["data"]

    def post(self, path, token, **headers):
        with self.s.app.app_context():
            return self.s.app.test_client().post(path, data={"token": token}, headers=headers)

    def open(self, name):
        """The page the signed first request answers, its page token, and the ZAF host's answers."""
        path, token, zaf = self.launch(name)
        response = self.post(path, token)
        assert response.status_code == 200, response.data
        return response, agent_token(response), zaf

    def bind(self, name):
        """The panel's first answer for ticket `name`, asked as the page's script does, and the token bound
        to the ticket it carries."""
        _, page_token, zaf = self.open(name)
        response = self.panel(zaf["ticket.id"], page_token, query={"locale": zaf["currentUser.locale"]})
        return response, response.headers.get("X-Agent-Token")

    def panel(self, name, token, method="get", suffix="", query=None, **kwargs):
        ticket_id = self.company.tickets.get(name, name)
        with self.s.app.app_context():
            client = self.s.app.test_client()
            return getattr(client, method)(f"{SIDEBAR_PATH}/tickets/{ticket_id}{suffix}", query_string=query,
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
