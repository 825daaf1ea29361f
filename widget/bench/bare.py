"""The bare endpoint `flask --app wsgi bench widget` compares the record widget with: a Flask app of one
route, served by gunicorn with the same settings (`gunicorn widget.bench.bare:app`)."""
from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return "ok"
