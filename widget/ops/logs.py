"""The log lines operators read: one a request, one a sync run's start, end or failure, one an outside
call given up on (widget/clients/http.py); JSON objects, one a line, with LOG_FORMAT=json.

A line carries ids, names and figures, never personal data nor a secret: no URL (a widget context rides
in the query string, a search in Zendesk's), no body, no header but the request id, no error message of
an outside service (it may quote a person's email). Every line goes to standard error, through the
`widget` logger, so gunicorn, RQ and the CLI need no logging configuration of their own.
"""
import json
import logging
import re
import sys
import time
import uuid

from flask import g, request

from .instruments import REQUEST_SECONDS

REQUEST_ID_HEADER = "X-Request-Id"
# A request id a proxy or load balancer sent, kept when it looks like one: never a place to inject lines.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_handler = None

requests_log = logging.getLogger("widget.requests")
runs_log = logging.getLogger("widget.sync.runs")


def init_app(app):
    """Log through one handler on the `widget` logger (this process's first app adds it), formatted as the
    app's LOG_FORMAT says; time each request and log it once answered."""
    global _handler
    if _handler is None:
        _handler = _StandardError()
        logger = logging.getLogger("widget")  # also Flask's app.logger, which then adds no handler of its own
        logger.addHandler(_handler)
        logger.setLevel(logging.INFO)
    _handler.setFormatter(JsonFormatter() if app.config.get("LOG_FORMAT") == "json" else TextFormatter())
    # The first hook of all, so a request another hook answers early (a body too large) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_answered)


def _started():
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def request_id_for(sent):
    """The id of a request: the one a proxy sent (X-Request-Id) when it looks like one, else a new one."""
    return sent if sent and REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _answered(response):
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    request_id = response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    answered(request_id, request.method, request.endpoint, response.status_code, seconds, _installation_id())
    return response


def answered(request_id, method, endpoint, status, seconds, installation_id):
    """Time and log a request once answered (its route is its endpoint, "unmatched" for none)."""
    route = endpoint or "unmatched"
    REQUEST_SECONDS.labels(route).observe(seconds)
    requests_log.info("request", extra={
        "request_id": request_id, "method": method, "route": route, "status": status,
        "duration_ms": round(seconds * 1000, 1), "installation_id": installation_id})


def _installation_id():
    """The installation the request acted for, if a view knew it (never loaded just to log it)."""
    known = g.get("installation_id")
    if known is None:
        known = getattr(vars(g).get("_installation"), "id", None)
    return known


def sync_run(event, run, **fields):
    """One line for a sync run's `started`, `ended` or `failed` (ids, kind and status: no message, which
    may quote a record)."""
    level = logging.WARNING if event == "failed" else logging.INFO
    runs_log.log(level, "sync run %s", event, extra={
        "run_id": run.id, "installation_id": run.installation_id, "kind": run.kind, "status": run.status,
        **fields})


def fields(record):
    """The record's own fields (`extra=`), beyond what every log record has."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's fields."""

    def format(self, record):
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(), **fields(record)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...` for a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record):
        line = super().formatMessage(record)
        extra = " ".join(f"{key}={value}" for key, value in fields(record).items())
        return f"{line} {extra}" if extra else line


class _StandardError(logging.StreamHandler):
    """Writes to the standard error of the moment (a test runner or a daemon may swap sys.stderr)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass
