"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
import click

from widget import create_app
from widget.sync.scheduler import Scheduler

app = create_app()
# Auto sync and housekeeping in the served app's process (SCHEDULER_ENABLED, on by default with
# SYNC_QUEUE=thread). Not under the flask CLI (a click context exists while it imports us): its commands
# start their own when they need one (demo, scheduler). Every gunicorn worker runs one; the scheduler's
# leases make each job happen once an interval all the same.
if app.config["SCHEDULER_ENABLED"] and not app.config.get("TESTING") and click.get_current_context(silent=True) is None:
    Scheduler(app).start()
