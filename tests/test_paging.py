"""Page numbers and ids from URLs and forms (widget/numbers.py), route by route: a huge, negative or zero
page gives the nearest page there is, a page that is not a number a 400 with a plain message, an id no
database column can hold a 404 or nothing — never a 5xx."""
import pytest
from bs4 import BeautifulSoup

from tests.helpers import ADMIN, context_for, install
from tests.record.conftest import listed
from tests.record.test_ticket_list import _add_tickets, _authorize
from widget import create_app
from widget.extensions import db
from widget.models import Installation, InboxEvent, SyncError
from widget.numbers import MAX_PAGE, NotAPageNumber, page_number, whole_number
from widget.sandbox.serving import free_port

HUGE = "99999999999999999999"
NOT_A_PAGE = "The page number in this address is not a number. Open the list again from Zoho CRM."
LIST = "/record/Contacts/42/tickets"


@pytest.fixture
def app(tmp_path):
    """The app with Zendesk unreachable (a closed loopback port): a ticket opens from the local copy."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
                      "ZENDESK_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def installed(app, client):
    """A Contact with 25 open tickets (3 pages of 10), Zendesk authorized as `acme`."""
    installed = install(client)
    _authorize(app, "org-1")
    with app.app_context():
        db.session.scalar(db.select(Installation)).zendesk_subdomain = "acme"
        db.session.commit()
    _add_tickets(app, "org-1", ["open"] * 25)
    return installed


@pytest.fixture
def record(installed):
    """The Contact's widget context, for an admin."""
    return context_for(installed)


def _get(client, url, ctx, **query):
    return client.get(url, query_string=query, headers={"X-Widget-Context": ctx, "HX-Request": "true"})


def _page(response):
    return BeautifulSoup(response.data, "html.parser")


def _refusal(response):
    return _page(response).select_one("p.error").get_text()


def test_page_numbers_parse_to_the_nearest_page_or_refuse():
    assert [page_number(text) for text in (None, "", " 2 ", "+3", "007", "0", "-1", "-" + HUGE, HUGE, "9" * 5000)] == [
        1, 1, 2, 3, 7, 1, 1, 1, MAX_PAGE, MAX_PAGE]
    for nonsense in ("abc", "1.5", "1e3", "²", "٣", "0x10", "--1", "1 2"):
        with pytest.raises(NotAPageNumber):
            page_number(nonsense)
    assert [whole_number(text) for text in ("12", "0", "-1", "²", "٣", "abc", None, HUGE, str(2**63 - 1))] == [
        12, 0, None, None, None, None, None, None, 2**63 - 1]


@pytest.mark.parametrize("page, shown", [(HUGE, 3), ("-" + HUGE, 1), ("-2", 1), ("0", 1), ("9" * 5000, 3),
                                         ("2", 2), ("", 1)])
def test_the_related_list_shows_the_nearest_page(client, record, page, shown):
    response = _get(client, LIST, record, page=page)
    assert response.status_code == 200
    assert f"Page {shown} of 3" in response.get_data(as_text=True)
    assert len(listed(response)) == (5 if shown == 3 else 10)


@pytest.mark.parametrize("page", ["abc", "1.5", "²", "٣"])
def test_the_related_list_refuses_a_page_that_is_not_a_number(client, record, page):
    response = _get(client, LIST, record, page=page)
    assert response.status_code == 400 and _refusal(response) == NOT_A_PAGE


def test_the_refusal_of_a_page_that_is_not_a_number_in_japanese(app, installed):
    ctx = context_for(installed, user=dict(ADMIN, locale="ja_JP"))
    with app.app_context():
        response = app.test_client().get(LIST, query_string={"page": "abc"}, headers={"X-Widget-Context": ctx})
    assert _refusal(response) == ("このアドレスのページ番号が数字ではありません。"
                                  "Zoho CRM から一覧をもう一度開いてください。")


@pytest.mark.parametrize("page, back", [(HUGE, MAX_PAGE), ("-5", 1), ("0", 1), ("2", 2)])
def test_an_opened_ticket_keeps_the_nearest_page_to_go_back_to(client, record, page, back):
    response = _get(client, f"{LIST}/3", record, status="all", page=page)
    assert response.status_code == 200
    link = _page(response).select_one("#back-to-list")["hx-get"]
    assert link == f"{LIST}?status=all&page={back}"
    back_to_list = client.get(link, headers={"X-Widget-Context": record, "HX-Request": "true"})
    assert f"Page {min(back, 3)} of 3" in back_to_list.get_data(as_text=True)  # the nearest page there is


def test_an_opened_ticket_refuses_a_page_that_is_not_a_number(client, record):
    response = _get(client, f"{LIST}/3", record, status="all", page="abc")
    assert response.status_code == 400 and _refusal(response) == NOT_A_PAGE


@pytest.mark.parametrize("ticket_id", [HUGE, str(2**63), "0", "-1", "abc"])
def test_a_ticket_id_no_database_holds_is_not_found(client, record, ticket_id):
    assert _get(client, f"{LIST}/{ticket_id}", record).status_code == 404
    answer = client.post(f"{LIST}/{ticket_id}/comments", data={"body": "Hi"},
                         headers={"X-Widget-Context": record, "HX-Request": "true"})
    assert answer.status_code == 404


def _token(client, ctx):
    """The user's form token, as the dashboard's forms carry it."""
    return _page(client.get("/dashboard", query_string={"ctx": ctx})).select_one("input[name=csrf_token]")["value"]


@pytest.mark.parametrize("page", [HUGE, "-1", "0", "abc"])
def test_a_reply_posted_with_any_page_to_go_back_to_is_answered(client, record, page):
    token = _token(client, record)
    answer = client.post(f"{LIST}/3/comments", query_string={"status": "all", "page": page},
                         data={"csrf_token": token, "body": "", "visibility": "public"},
                         headers={"X-Widget-Context": record, "HX-Request": "true"})
    assert answer.status_code == (400 if page == "abc" else 200)
    if answer.status_code == 200:  # the form comes back with its own message: nothing was written
        assert _page(answer).select_one("#ticket-reply .error").get_text(strip=True)


@pytest.mark.parametrize("error_id", [HUGE, "-1", "0", "abc", "²"])
def test_retry_of_an_error_id_that_cannot_exist_retries_nothing(app, client, record, error_id):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation))
        db.session.add(SyncError(installation_id=installation.id, stream="zendesk_tickets", object_id="1",
                                 message="Zendesk refused the ticket."))
        db.session.commit()
    answer = client.post("/dashboard/errors/retry", data={"csrf_token": _token(client, record), "error": error_id},
                         headers={"X-Widget-Context": record, "HX-Request": "true"})
    assert answer.status_code == 200
    assert "0 records will be synced again in a moment." in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(InboxEvent)) == 0


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "abc", "²"])
def test_the_organization_picker_drops_ids_that_cannot_exist(client, record, value):
    token = _token(client, record)
    for action in (f"add:{value}", f"remove:{value}", "add_shown"):
        answer = client.post("/settings/wizard/organizations",
                             data={"csrf_token": token, "action": action, "shown": value, "selected": value},
                             headers={"X-Widget-Context": record, "HX-Request": "true"})
        assert answer.status_code == 200, action
        assert not _page(answer).select("#chosen-organizations li"), action


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "abc", "²"])
def test_the_field_mapping_takes_any_count_and_pair_to_remove(client, record, value):
    token = _token(client, record)
    for data in ({"count": value, "action": "update"}, {"count": "0", "action": f"remove:{value}"}):
        answer = client.post("/settings/wizard/mapping", data={"csrf_token": token, "module": "Contacts", **data},
                             headers={"X-Widget-Context": record, "HX-Request": "true"})
        assert answer.status_code == 200, data
