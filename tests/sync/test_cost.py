"""Cost and memory of a first sync: API calls within 5% of the minimum the batch sizes allow
(export pages of 1000, CRM upserts of 100), counted where they arrive, at the sandboxes; and a peak
memory that does not grow with the number of tickets (pages are streamed, never all loaded)."""
import pytest

from tests.sync.sync_process import prepared
from widget.extensions import db
from widget.models import Installation
from widget.bench import first_sync as bench
from widget.sync import engine
from widget.sync.tickets import COMMENTS, TICKETS

LOOKUPS = 3  # show_many of the agents who wrote comments but were never sideloaded with a ticket


def test_a_first_sync_costs_within_5_percent_of_the_minimum_calls(tmp_path):
    with prepared(tmp_path, 4_000, comments_per_ticket=None) as run:  # 1 to 3 comments a ticket
        account = run.zendesk_account()
        for ticket in list(account.tickets.values())[::13]:  # events without a comment in between
            if ticket["status"] != "closed":
                account.update_ticket(ticket, {"priority": "urgent"})
        run.bench.zendesk.state.clock.advance(120)  # exports leave out the last minute
        tickets, events = len(account.tickets), len(account.ticket_events)
        comments = sum(len(c) for c in account.comments.values())
        run.bench.zendesk_calls.reset()
        run.bench.crm_calls.reset()
        with run.app.app_context():
            installation = db.session.get(Installation, run.installation_id)
            engine.run_streams(installation, [TICKETS, COMMENTS])  # the people streams cost on their own

        zendesk, crm = run.bench.zendesk_calls, run.bench.crm_calls
        assert zendesk.count("/incremental/tickets/cursor") == tickets // 1000 + 1 - (tickets % 1000 == 0)
        assert crm.count("/Zendesk_Tickets/upsert") == -(-tickets // 100)
        assert crm.count("/Zendesk_Ticket_Comments/upsert") == -(-comments // 100)
        assert len(run.crm_records("comments")) == comments
        minimal = bench.minimal_calls(tickets, events, comments)
        assert zendesk.total() + crm.total() <= minimal * 1.05 + LOOKUPS, (zendesk.calls, crm.calls, minimal)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_tickets(tmp_path):
    peaks = {}
    for tickets in (1_000, 10_000):
        folder = tmp_path / str(tickets)
        folder.mkdir()
        with prepared(folder, tickets) as run:
            answer, peaks[tickets] = run.sync()
            assert answer["status"] == "done"
            assert len(run.crm_records("tickets")) == tickets
    # Ten times the tickets (ten export pages instead of one): the same peak, give or take noise.
    assert peaks[10_000] <= peaks[1_000] * 1.10, peaks
