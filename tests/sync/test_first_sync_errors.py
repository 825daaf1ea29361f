"""A first sync that ends with failed records says so in the settings panel: "Sync finished with N
errors." instead of the plain "Sync finished.", and the first few failed records (which data, which
record, what went wrong) below the counts, in the admin's language."""
from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.sandbox.crm.signing import mint_context
from widget.sync import runs

ACCOUNTS_LABEL = "Zoho CRM accounts → Zendesk organizations"


def _progress(s, locale=None):
    installation = s.installation()
    user = dict(ADMIN, locale=locale) if locale else ADMIN
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user)}
    with s.app.app_context():  # a request's own context, as when served: the locale is kept in it
        answer = s.app.test_client().get("/settings/sync/progress", headers=headers)
    assert answer.status_code == 200
    return BeautifulSoup(answer.get_data(as_text=True), "html.parser")


def _first_sync(s):
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    return run


def test_a_first_sync_with_errors_says_how_many_and_lists_the_first_failed_records(synced_installation):
    s = synced_installation
    for n in range(12):  # another system's organizations hold these names: not ours to take
        s.account().create_organization({"name": f"Taken {n:02d}", "external_id": f"SF-{n:02d}"})
    failing = s.crm_insert("Accounts", [{"Account_Name": f"Taken {n:02d}"} for n in range(12)])

    run = _first_sync(s)

    assert run.status == "done" and run.counts["crm_accounts"]["errors"] == 12
    page = _progress(s)
    progress = page.select_one("#sync-progress")
    assert progress.select_one("#sync-finished-with-errors").get_text() == "Sync finished with 12 errors."
    assert "Sync finished." not in progress.get_text() and progress.select_one(".ok") is None
    rows = [[td.get_text() for td in row.select("td")] for row in page.select("#sync-failures tbody tr")]
    assert [row[1] for row in rows] == failing[:10]  # the first ten, in the order they failed
    assert rows[0] == [ACCOUNTS_LABEL, failing[0], ("A Zendesk organization named “Taken 00” already exists and is "
                                                    "linked to another record (its external ID is “SF-00”), so this "
                                                    "account was not synced. Rename one of them.")]
    assert page.select_one("#sync-more-failures").get_text() == "…and 2 more."

    japanese = _progress(s, locale="ja_JP")
    assert japanese.select_one("#sync-finished-with-errors").get_text() == \
        "同期が完了しましたが、12 件のエラーがありました。"
    assert japanese.select_one("#sync-failures caption").get_text() == "同期できなかったレコード"
    assert japanese.select_one("#sync-failures tbody td").get_text() == "Zoho CRM の取引先 → Zendesk の組織"
    assert japanese.select_one("#sync-more-failures").get_text() == "…ほか 2 件。"


def test_a_first_sync_with_one_error_and_one_without(synced_installation):
    s = synced_installation
    s.account().create_organization({"name": "Taken Co", "external_id": "SF-1"})
    [failing] = s.crm_insert("Accounts", [{"Account_Name": "Taken Co"}])

    _first_sync(s)

    page = _progress(s)
    assert page.select_one("#sync-finished-with-errors").get_text() == "Sync finished with 1 error."
    assert [tr.select("td")[1].get_text() for tr in page.select("#sync-failures tbody tr")] == [failing]
    assert page.select_one("#sync-more-failures") is None


def test_a_first_sync_without_errors_just_finishes(synced_installation):
    s = synced_installation  # the seeded accounts adopt the seeded organizations of their names
    _first_sync(s)
    page = _progress(s)
    assert page.select_one("#sync-progress .ok").get_text() == "Sync finished."
    assert page.select_one("#sync-finished-with-errors") is None and page.select_one("#sync-failures") is None
