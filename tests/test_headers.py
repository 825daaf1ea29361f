"""The security headers of real answers of every kind (widget/headers.py): a strict Content-Security-Policy
(our own scripts and styles only, no inline code, no eval; framed only by the CRM), no Referer, no type
sniffing, and nothing that holds a context kept in a cache — and pages that need nothing the policy
refuses."""
import re
from pathlib import Path

from bs4 import BeautifulSoup

from tests.helpers import install_body, lifecycle
from tests.record.conftest import company, crm_sandbox, synced_installation, zendesk_sandbox  # noqa: F401 (fixtures)
from widget.headers import CRM_ORIGINS

ROOT = Path(__file__).resolve().parents[1]
STRICT = {"default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"], "object-src": ["'none'"],
          "base-uri": ["'none'"]}


def policy(response):
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = [part.split() for part in response.headers["Content-Security-Policy"].split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def assert_secure_headers(response, url, stored=False):
    csp = policy(response)
    assert {name: csp.get(name) for name in STRICT} == STRICT, url
    assert set(CRM_ORIGINS) <= set(csp["frame-ancestors"]), url
    assert not [source for sources in csp.values() for source in sources if "unsafe" in source], url
    assert response.headers["Referrer-Policy"] == "no-referrer", url
    assert response.headers["X-Content-Type-Options"] == "nosniff", url
    if stored:
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
    else:
        assert response.headers["Cache-Control"] == "no-store", url


def inline_code(html):
    """What a page holds that the policy refuses: inline scripts and styles, event handler attributes,
    and htmx attributes evaluated as code (trigger filters, hx-on, js: values)."""
    page = BeautifulSoup(html, "html.parser")
    found = [str(tag)[:80] for tag in page.select("script:not([src]), style, [style]")]
    for tag in page.find_all(True):
        for name, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if (name.startswith("on") or name.startswith("hx-on") or (name == "hx-trigger" and "[" in value)
                    or (name in ("hx-vals", "hx-headers", "hx-vars") and re.match(r"\s*(js|javascript):", value))):
                found.append(f"{tag.name} {name}={value[:60]}")
    return found


def test_every_kind_of_page_and_answer_carries_the_headers(company):  # noqa: F811
    s, admin_ctx = company.s, company.context("Contacts", "yui")
    record = f"/record/Contacts/{company.records['yui']}/tickets"
    ticket = f"{record}/{company.tickets['yui_open']}"
    widget_pages = [("get", "/settings", True), ("get", "/settings/crm/status", True),
                    ("get", "/settings/wizard/sync", False), ("get", "/settings/wizard/organizations", True),
                    ("get", "/settings/wizard/mapping", False), ("get", "/settings/wizard/summary", True),
                    ("get", "/dashboard", False), ("get", "/dashboard", True), ("get", record, False),
                    ("get", record, True), ("get", ticket, False), ("get", ticket, True),
                    ("post", f"{ticket}/comments", True), ("get", "/context/renew", True)]
    for method, url, htmx in widget_pages:
        response = company.request(method, url, admin_ctx, htmx=htmx)
        assert response.status_code in (200, 204), (url, response.status_code)
        assert_secure_headers(response, url)
        assert inline_code(response.data) == [], url
        if not htmx and method == "get":
            assert BeautifulSoup(response.data, "html.parser").select_one("meta[name=htmx-config]")["content"] == \
                '{"includeIndicatorStyles": false, "allowEval": false}'

    with s.app.app_context():
        client = s.app.test_client()
        others = [("refused page", client.get(record), 401),
                  ("authorization callback", client.get("/settings/zendesk/callback?state=forged&code=x"), 400),
                  ("lifecycle JSON", client.post("/lifecycle/install", json={}), 401),
                  ("webhook JSON", client.post("/webhooks/zendesk/nobody", data=b"{}"), 404),
                  ("health", client.get("/healthz"), 200)]
        assert BeautifulSoup(others[1][1].data, "html.parser").select_one("#authorization-result .error")
        for name, response, status in others:
            assert response.status_code == status, name
            assert_secure_headers(response, name)
            assert inline_code(response.data) == [], name
        for path in ("/static/js/widget.js", "/static/css/app.css"):
            static = client.get(path)
            assert_secure_headers(static, path, stored=True)  # no context in them: the browser may keep them
            static.close()


def test_the_sandbox_origin_may_frame_our_pages_too(tmp_path):
    from widget import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
                      "SANDBOX_ORIGIN": "http://localhost:5002"})
    response = app.test_client().get("/healthz")
    assert policy(response)["frame-ancestors"] == [*CRM_ORIGINS, "http://localhost:5002"]


def test_no_template_of_ours_holds_code_the_policy_refuses():
    """Every template, including those no test above renders (the sandboxes' pages are the CRM's and
    Zendesk's, not ours)."""
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20
    for template in templates:
        assert inline_code(template.read_text()) == [], template.relative_to(ROOT)


def test_a_lifecycle_answer_with_the_context_secret_is_never_stored(client):
    answer = lifecycle(client, "install", install_body())
    assert answer.status_code == 201 and answer.get_json()["context_secret"]
    assert_secure_headers(answer, "install")
