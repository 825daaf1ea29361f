"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from widget import create_app
from widget.sync.scheduler import Scheduler

app = create_app()
if app.config["SCHEDULER_ENABLED"] and not app.config.get("TESTING"):
    Scheduler(app).start()  # auto sync and housekeeping in this process (SCHEDULER_ENABLED=1)
