"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from widget import create_app

app = create_app()
