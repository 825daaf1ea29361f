"""A rep's reply from the CRM: a public reply or an internal note posted to the Zendesk sandbox as the
matching agent (else the authorizing admin, naming the rep), a status change, every refusal in plain
words with nothing posted, the local copy updated at once and the CRM reached through the sync."""
import re

from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from tests.record.conftest import AGENT_EMAIL
from widget.extensions import db
from widget.models import Comment, Ticket
from widget.record.reply import MAX_LENGTH
from widget.sandbox.serving import free_port

REP = dict(ADMIN, id="u7", name="Rina Rep", email=AGENT_EMAIL)  # her CRM email is a Zendesk agent's
STRANGER = dict(ADMIN, id="u8", name="Kenji Newcomer", email="kenji@crm-only.example")  # no Zendesk account


def _url(company, name, record="yui", entity="Contacts"):
    return f"/record/{entity}/{company.records[record]}/tickets/{company.tickets[name]}"


def _token(company, name, user=REP, record="yui", entity="Contacts"):
    """The reply form's own token, from the opened ticket that shows the form."""
    ctx = company.context(entity, record, user=user)
    with company.s.app.app_context():
        page = company.s.app.test_client().get(_url(company, name, record, entity),
                                               headers={"X-Widget-Context": ctx, "HX-Request": "true"})
    return BeautifulSoup(page.data, "html.parser").select_one("#ticket-reply input[name=csrf_token]")["value"]


def _post(company, name, data, user=REP, record="yui", entity="Contacts", htmx=True, token=None):
    ctx = company.context(entity, record, user=user)
    token = token or _token(company, name, user, record, entity)
    return company.request("post", f"{_url(company, name, record, entity)}/comments?status=unsolved&page=1", ctx,
                           htmx=htmx, data={"csrf_token": token, **data})


def _page(response):
    return BeautifulSoup(response.data, "html.parser")


def _zendesk_comments(company, name):
    return company.s.account().comments[company.tickets[name]]


def _puts(company):
    return company.s.zendesk_calls.count("PUT", "/api/v2/tickets/")


def test_a_public_reply_as_the_matching_agent_with_a_new_status(company):
    before = len(_zendesk_comments(company, "yui_open"))
    response = _post(company, "yui_open", {"body": "  The fix ships tomorrow.  ", "visibility": "public",
                                           "status": "pending"})
    assert response.status_code == 200
    comments = _zendesk_comments(company, "yui_open")
    assert len(comments) == before + 1
    posted = comments[-1]
    assert (posted["author_id"], posted["public"], posted["body"]) == (
        company.users["agent"]["id"], True, "The fix ships tomorrow.")
    zendesk = company.s.account().tickets[company.tickets["yui_open"]]
    assert zendesk["status"] == "pending"

    page = _page(response)
    assert page.select_one("#reply-notice").get_text() == "Your public reply is posted and the ticket is now Pending."
    assert page.select_one("#ticket-reply textarea").get_text() == ""  # a fresh box
    thread = page.select_one("#ticket-thread[hx-swap-oob=true]")  # the thread, updated in place
    last = thread.select("li.comment")[-1]
    assert last.select_one(".author").get_text() == company.users["agent"]["name"]
    assert last.select_one(".comment-body").get_text() == "The fix ships tomorrow."
    assert page.select_one("#ticket-summary[hx-swap-oob=true] #field-status").get_text(strip=True) == "Pending"

    # The local copy has it at once: the list shows the new state, the thread the reply.
    row = db.session.scalar(db.select(Ticket).filter_by(zendesk_id=zendesk["id"]))
    db.session.refresh(row)
    assert row.status == "pending"
    local = db.session.scalar(db.select(Comment).filter_by(zendesk_id=posted["id"]))
    assert (local.body, local.public, local.author_name) == ("The fix ships tomorrow.", True,
                                                             company.users["agent"]["name"])


def test_an_internal_note_by_default_through_the_admin_naming_a_rep_zendesk_does_not_know(company):
    response = _post(company, "yui_open", {"body": "Customer called about the invoice."}, user=STRANGER)
    assert response.status_code == 200
    posted = _zendesk_comments(company, "yui_open")[-1]
    assert posted["public"] is False  # internal unless the rep chooses otherwise
    assert posted["author_id"] == company.users["admin"]["id"]  # the grant's user
    assert posted["body"] == "— posted by Kenji Newcomer from Zoho CRM\n\nCustomer called about the invoice."
    assert _page(response).select_one("#reply-notice").get_text() == "Your internal note is posted."
    local = db.session.scalar(db.select(Comment).filter_by(zendesk_id=posted["id"]))
    assert local.author_name == company.users["admin"]["name"] and local.public is False


def test_a_status_change_alone(company):
    before = len(_zendesk_comments(company, "yui_pending"))
    response = _post(company, "yui_pending", {"body": "", "status": "solved"})
    assert _page(response).select_one("#reply-notice").get_text() == "The ticket is now Solved."
    assert company.s.account().tickets[company.tickets["yui_pending"]]["status"] == "solved"
    assert len(_zendesk_comments(company, "yui_pending")) == before  # no empty comment


def test_the_reply_reaches_the_crm_through_the_sync(company):
    _post(company, "yui_open", {"body": "Escalated to the vendor.", "visibility": "public"})
    company.s.zendesk.state.clock.advance(120)  # the exports leave out the last minute
    company.s.run("zendesk_comments")
    module = company.s.installation().crm_modules["comments"]
    bodies = [r["Body"] for r in company.s.crm_org().modules[module].records.values()]
    assert bodies.count("Escalated to the vendor.") == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Comment).filter_by(
        body="Escalated to the vendor.")) == 1


def _refused(response, field=None):
    """The form back with the message next to `field` (or above the form), nothing else on the page."""
    page = _page(response)
    assert response.status_code == 200 and page.select_one("#ticket-thread") is None
    if field:
        control = page.select_one(f"#ticket-reply #{field}")
        assert control["aria-invalid"] == "true"
        return page.select_one(f"#{control['aria-describedby']}").get_text()
    return page.select_one("#reply-failure").get_text()


def test_every_invalid_reply_is_refused_next_to_its_field_and_posts_nothing(company):
    cases = [({"body": "   "}, "body", "Write a reply, or choose a new status."),
             ({"body": "", "status": "open"}, "body", "Write a reply, or choose a new status."),  # already open
             ({"body": "x" * (MAX_LENGTH + 1)}, "body",
              f"A reply can have at most {MAX_LENGTH:,} characters; this one has {MAX_LENGTH + 1:,}."),
             ({"body": "Hi", "visibility": "shout"}, "visibility", "Choose a public reply or an internal note."),
             ({"body": "Hi", "status": "closed"}, "status", "Choose a status from the list.")]
    for data, field, message in cases:
        response = _post(company, "yui_open", data)
        assert _refused(response, field) == message, data
        if data["body"].strip():
            assert _page(response).select_one("#ticket-reply textarea").get_text() == data["body"]  # kept
    expired = _post(company, "yui_open", {"body": "Hi"}, token="forged")
    assert "This form has expired" in _page(expired).select_one("#ticket-reply .error").get_text()
    assert _puts(company) == 0


def test_a_refusal_by_zendesk_in_plain_words_with_the_text_kept(company):
    token = _token(company, "yui_solved")  # the rep opened the ticket; then it was closed in Zendesk
    account = company.s.account()
    account.update_ticket(account.tickets[company.tickets["yui_solved"]], {"status": "closed"})
    response = _post(company, "yui_solved", {"body": "One more thing.", "visibility": "public"}, token=token)
    assert _refused(response) == ("This ticket is closed in Zendesk, and a closed ticket takes no replies or "
                                  "changes. Nothing was posted.")
    assert _page(response).select_one("#ticket-reply textarea").get_text() == "One more thing."
    assert all(c["body"] != "One more thing." for c in _zendesk_comments(company, "yui_solved"))


def test_zendesk_down_posts_nothing_and_says_so(company):
    token = _token(company, "yui_open")
    company.s.app.config["ZENDESK_BASE_URL"] = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nobody listens
    response = _post(company, "yui_open", {"body": "Are you there?"}, token=token)
    assert _refused(response) == "Zendesk could not be reached. Nothing was posted: try again in a moment."
    assert _page(response).select_one("#ticket-reply textarea").get_text() == "Are you there?"
    assert db.session.scalar(db.select(db.func.count()).select_from(Comment).filter_by(body="Are you there?")) == 0


def test_another_records_ticket_answers_404_and_posts_nothing(company):
    for entity, record, name in (("Contacts", "yui", "mori_open"), ("Accounts", "account_b", "yui_open"),
                                 ("Deals", "lonely_deal", "deal_yui")):
        ctx = company.context(entity, record, user=REP)
        url = f"/record/{entity}/{company.records[record]}/tickets/{company.tickets[name]}/comments"
        response = company.request("post", url, ctx, data={"body": "Not mine", "visibility": "public"})
        assert response.status_code == 404
        assert "Not mine" not in response.get_data(as_text=True)
    assert _puts(company) == 0 and company.s.zendesk_calls.api_calls() == []


def test_japanese_reply_box_and_the_note_naming_the_rep(company):
    ctx_user = dict(STRANGER, locale="ja_JP", time_zone="Asia/Tokyo")
    empty = _post(company, "yui_open", {"body": ""}, user=ctx_user)
    assert _refused(empty, "body") == "返信を入力するか、新しいステータスを選んでください。"
    page = _page(empty)
    assert [label.get_text() for label in page.select("#visibility label")] == ["社内メモ", "パブリック返信"]
    assert page.select_one("#status option[value='']").get_text() == "変更なし（オープン）"
    posted = _post(company, "yui_open", {"body": "請求書を再送しました。", "status": "pending"}, user=ctx_user)
    assert _page(posted).select_one("#reply-notice").get_text() == "社内メモを投稿し、チケットを「保留中」にしました。"
    body = _zendesk_comments(company, "yui_open")[-1]["body"]
    assert body == "— Zoho CRM から Kenji Newcomer が投稿\n\n請求書を再送しました。"
    times = [t.get_text() for t in _page(posted).select("#ticket-thread time")]
    assert all(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}", t) for t in times), times


def test_without_htmx_the_reply_answers_the_whole_page(company):
    posted = _page(_post(company, "yui_open", {"body": "Sent without JavaScript."}, htmx=False))
    assert posted.select_one("body")["hx-headers"] and posted.select_one("#tickets-area #ticket-detail")
    assert posted.select_one("#reply-notice").get_text() == "Your internal note is posted."
    assert posted.select("#ticket-thread li.comment")[-1].select_one(".comment-body").get_text().endswith(
        "Sent without JavaScript.")
    refused = _page(_post(company, "yui_open", {"body": ""}, htmx=False))
    assert refused.select_one("#ticket-detail #ticket-thread") is not None
    assert refused.select_one("#body-error").get_text() == "Write a reply, or choose a new status."
