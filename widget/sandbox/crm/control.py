"""Sandbox-only control endpoints (not part of Zoho): move the clock, inject faults, change an org's
edition, switch limits off, read the notification delivery log, empty the recycle bin. Under `/_sandbox/`.
"""
from flask import Blueprint, current_app, jsonify, request

from .http import state
from .state import EDITIONS

bp = Blueprint("crm_control", __name__, url_prefix="/_sandbox")


def _error(message):
    return jsonify(error="invalid", message=message), 400


def _body():
    return request.get_json(silent=True) or {}


@bp.post("/clock")
def clock():
    """Advance the sandbox clock by `advance` seconds (token, page-token and channel expiry)."""
    seconds = _body().get("advance")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        return _error("advance must be a non-negative number of seconds")
    state().clock.advance(seconds)
    return jsonify(offset=state().clock.offset)


@bp.post("/faults")
def faults():
    """Set `latency` (seconds per API call), `error_rate` (share 0..1 of 500 INTERNAL_ERROR answers) and
    `rate_limit_rate` (share 0..1 of 429 TOO_MANY_REQUESTS answers)."""
    body, current = _body(), state().faults
    for key, value in body.items():
        if key not in current:
            return _error(f"unknown fault {key!r}; known: {', '.join(current)}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (key != "latency" and value > 1):
            return _error(f"{key} must be a non-negative number (error_rate at most 1)")
    current.update(body)
    return jsonify(current)


@bp.post("/limits")
def limits():
    """Switch edition limits (concurrency, credits) on or off (benchmarks switch them off)."""
    enabled = _body().get("enabled")
    if not isinstance(enabled, bool):
        return _error("enabled must be true or false")
    state().limits_enabled = enabled
    return jsonify(enabled=enabled)


def _org(dc):
    centre = state().data_centres.get(dc)
    return centre.org() if centre else None


@bp.post("/orgs/<dc>/edition")
def edition(dc):
    """Change the DC's org edition (free, standard, professional, enterprise, ultimate)."""
    org = _org(dc)
    if org is None:
        return _error(f"no org in data centre {dc!r}")
    name = _body().get("edition")
    if name not in EDITIONS:
        return _error("edition must be one of " + ", ".join(EDITIONS))
    org.edition = name
    return jsonify(data_center=dc, edition=name, concurrency=org.concurrency_limit(), daily_credits=org.daily_credits())


@bp.post("/orgs/<dc>/credits")
def credits(dc):
    """Record `used` credits as spent now (to reach the daily limit without spending hours of calls)."""
    org = _org(dc)
    used = _body().get("used")
    if org is None or not isinstance(used, int) or isinstance(used, bool) or used < 0:
        return _error("needs an existing data centre and a non-negative integer `used`")
    org.spend_credits(used)
    return jsonify(used=org.credits_used(), daily_credits=org.daily_credits())


@bp.get("/deliveries")
def deliveries():
    """The notification delivery log, newest last."""
    return jsonify(deliveries=list(current_app.config["SANDBOX_NOTIFIER"].log))


@bp.post("/orgs/<dc>/recycle_bin/empty")
def empty_recycle_bin(dc):
    """An admin's Delete in Setup → Recycle Bin: every deleted record of the org is deleted for good (its
    GET /{module}/deleted entry becomes `type: permanent`); the bin also empties itself after 60 days."""
    org = _org(dc)
    if org is None:
        return _error(f"no org in data centre {dc!r}")
    org.empty_recycle_bin()
    return jsonify(data_center=dc, emptied=True)
