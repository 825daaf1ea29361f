"""The engine core: leases (one job per installation and stream), cursors, bulk-once, errors."""
import ast
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers import install
from widget.extensions import db
from widget.models import Installation, StreamLease, SyncError, SyncRun, utcnow
import widget.sync
from widget.sync import engine
from widget.sync.inbox import RETRY_EVENTS
from widget.sync.runs import REAPPLY_STREAMS, RunRefused, reset_bulk, start_first_sync


@pytest.fixture
def installation(app, client):
    install(client)
    with app.app_context():
        yield db.session.scalar(db.select(Installation))


def test_a_lease_is_held_by_one_holder_until_released_or_expired(installation):
    assert engine.acquire_lease(installation.id, "zendesk_tickets", "a")
    assert not engine.acquire_lease(installation.id, "zendesk_tickets", "b")
    assert engine.acquire_lease(installation.id, "zendesk_tickets", "a")  # renewal by its holder
    assert engine.acquire_lease(installation.id, "zendesk_users", "b")  # another stream is free
    engine.release_lease(installation.id, "zendesk_tickets", "a")
    assert engine.acquire_lease(installation.id, "zendesk_tickets", "b")
    lease = db.session.scalar(db.select(StreamLease).filter_by(stream="zendesk_tickets"))
    lease.expires_at = utcnow() - timedelta(seconds=1)  # its holder crashed
    db.session.commit()
    assert engine.acquire_lease(installation.id, "zendesk_tickets", "c")


def test_cursor_context_and_errors(installation):
    ctx = engine.SyncContext(installation, zendesk=object(), crm=object())
    assert ctx.cursor("zendesk_tickets") is None
    ctx.save_cursor("zendesk_tickets", "abc")
    ctx.save_cursor("zendesk_tickets", "def")
    assert ctx.cursor("zendesk_tickets") == "def"
    ctx.record_error("zendesk_tickets", 7, "INVALID_DATA: bad email")
    ctx.record_error("zendesk_tickets", 7, "INVALID_DATA: still bad")
    row = db.session.scalar(db.select(SyncError))
    assert (row.attempts, row.message) == (2, "INVALID_DATA: still bad")
    ctx.clear_errors("zendesk_tickets", [7])
    assert db.session.scalar(db.select(SyncError)) is None


def test_bulk_sync_runs_once_until_support_resets_it(installation):
    run = start_first_sync(installation)
    with pytest.raises(RunRefused, match="already running"):
        start_first_sync(installation)
    run.status = "done"
    engine.sync_settings(installation).bulk_done_at = utcnow()
    db.session.commit()
    with pytest.raises(RunRefused, match="only once"):
        start_first_sync(installation)
    reset_bulk(installation.org_id)
    assert start_first_sync(installation).status == "queued"
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun)) == 2


def test_selected_streams_follow_the_chosen_modules(installation):
    settings = engine.sync_settings(installation)
    streams = [engine.Stream(name, lambda ctx: None, module) for name, module in (
        ("crm_accounts", "Accounts"), ("crm_contacts", "Contacts"), ("crm_leads", "Leads"), ("zendesk_tickets", None))]
    settings.modules = ["Leads"]
    assert engine.selected_streams(settings, streams) == ["crm_leads", "zendesk_tickets"]
    assert engine.selected_streams(settings) == ["crm_leads", "zendesk_users", "zendesk_tickets", "zendesk_comments"]
    settings.modules = ["Accounts", "Contacts"]
    assert engine.selected_streams(settings) == ["crm_accounts", "crm_contacts", "zendesk_users",
                                                 "zendesk_organizations", "zendesk_tickets", "zendesk_comments"]


def test_every_stream_function_is_listed_once_in_the_package():
    """A stream is a function `sync_<what>(ctx)` of a module of widget/sync; one the package's STREAMS does
    not list would never run. Read from the source, so a module nobody imports is found too."""
    defined = set()
    for path in sorted(Path(widget.sync.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("sync_") and \
                    [arg.arg for arg in node.args.args] == ["ctx"]:
                defined.add((f"widget.sync.{path.stem}", node.name))
    listed = [(stream.run.__module__, stream.run.__name__) for stream in widget.sync.STREAMS]
    assert len(defined) == 7 and sorted(listed) == sorted(defined)
    names = engine.stream_names()
    assert len(set(names)) == len(names)
    # The streams other modules name (a changed mapping's re-run, the dashboard's Retry) are listed.
    assert {name for streams in REAPPLY_STREAMS.values() for name in streams} <= set(names)
    assert set(RETRY_EVENTS) <= set(names)


def test_support_reset_bulk_command_allows_another_bulk_sync(app, installation):
    settings = engine.sync_settings(installation)
    settings.bulk_done_at = utcnow()
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["support", "reset-bulk", installation.org_id])
    assert result.exit_code == 0 and "may run again" in result.output
    db.session.expire_all()
    assert engine.sync_settings(installation).bulk_done_at is None
    missing = runner.invoke(args=["support", "reset-bulk", "no-such-org"])
    assert missing.exit_code != 0 and "No installation for CRM org no-such-org" in missing.output
