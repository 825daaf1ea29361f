"""The dashboard's daily figures (widget/dashboard/figures.py): records written and real-time delay per
UTC day over the last 30 days, from the runs and the inbox."""
from datetime import timedelta

from widget.dashboard import figures
from widget.extensions import db
from widget.models import InboxEvent, Installation, SyncRun, utcnow


def test_written_and_delay_are_counted_per_day_over_the_last_30_days(app):
    now = utcnow().replace(hour=12)
    with app.app_context():
        installation = Installation(org_id="org-figures", data_center="jp")
        db.session.add(installation)
        db.session.commit()

        def run(days_ago, written):
            db.session.add(SyncRun(installation_id=installation.id, kind="catchup", status="done",
                                   finished_at=now - timedelta(days=days_ago),
                                   counts={"zendesk_tickets": {"read": 9, "written": written, "errors": 0},
                                           "zendesk_comments": {"read": 9, "written": 1, "errors": 0}}))

        def event(days_ago, delay, n):
            received = now - timedelta(days=days_ago)
            db.session.add(InboxEvent(installation_id=installation.id, source="zendesk", delivery_id=f"d{n}",
                                      payload={}, status="done", received_at=received,
                                      processed_at=received + timedelta(seconds=delay)))

        run(0, 4), run(0, 5), run(1, 2), run(40, 100)  # the last is older than the chart
        event(0, 1.0, 1), event(0, 3.0, 2), event(2, 0.5, 3)
        db.session.commit()
        written = figures.written_per_day(installation, today=now.date())
        lag = figures.realtime_lag_per_day(installation, today=now.date())
    assert len(written) == len(lag) == figures.CHART_DAYS
    assert written[-1].date == now.date() and written[-1].value == 4 + 1 + 5 + 1
    assert written[-2].value == 3 and sum(day.value for day in written) == 14
    assert lag[-1].value == 2.0 and lag[-3].value == 0.5 and lag[-2].value == 0
