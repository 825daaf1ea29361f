"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
import os
import sys

import click

from widget import create_app
from widget.config import ConfigError
from widget.sync.scheduler import Scheduler

# Commands that serve only local sandboxes (demo, sandbox, bench) run on a fresh machine with nothing
# configured: they say development for themselves, unless WIDGET_ENV says otherwise. Everything else
# (gunicorn, workers, the scheduler, db upgrade) is production unless told (widget/config.py).
DEVELOPMENT_COMMANDS = ("demo", "sandbox", "bench")
FLASK_OPTIONS_WITH_VALUE = ("-A", "--app", "-e", "--env-file")


def flask_command(argv):
    """The command `flask [options] COMMAND ...` runs, or None (gunicorn, `flask --help`)."""
    program = os.path.normpath(argv[0]) if argv else ""
    if os.path.basename(program) != "flask" and not program.endswith(os.path.join("flask", "__main__.py")):
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg in FLASK_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


if flask_command(sys.argv) in DEVELOPMENT_COMMANDS:
    os.environ.setdefault("WIDGET_ENV", "development")
try:
    app = create_app()
except ConfigError as unsafe:
    raise SystemExit(str(unsafe)) from None  # the reasons alone, not a traceback around them
# Auto sync and housekeeping in the served app's process (SCHEDULER_ENABLED, on by default with
# SYNC_QUEUE=thread). Not under the flask CLI (a click context exists while it imports us): its commands
# start their own when they need one (demo, scheduler). Every gunicorn worker runs one; the scheduler's
# leases make each job happen once an interval all the same.
if app.config["SCHEDULER_ENABLED"] and not app.config.get("TESTING") and click.get_current_context(silent=True) is None:
    Scheduler(app).start()
