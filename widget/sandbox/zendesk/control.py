"""Sandbox-only control endpoints (not part of Zendesk): move the clock, inject faults, switch plans.

Tests in other processes, benchmarks and the demo use these; they live under `/_sandbox/`.
"""
from flask import Blueprint, jsonify, request

from .http import state
from .state import PLANS

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


def _error(message):
    return jsonify(error="invalid", message=message), 400


@bp.post("/clock")
def clock():
    """Advance the sandbox clock by `advance` seconds (the one-minute export rule, token expiry)."""
    seconds = (request.get_json(silent=True) or {}).get("advance")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return _error("advance must be a non-negative number of seconds")
    state().clock.advance(seconds)
    return jsonify(offset=state().clock.offset)


@bp.post("/faults")
def faults():
    """Set latency (seconds) and shares (0..1) of 500s, 429s and dropped connections."""
    body = request.get_json(silent=True) or {}
    current = state().faults
    for key, value in body.items():
        if key not in current:
            return _error(f"unknown fault {key!r}; known: {', '.join(current)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                or (key != "latency" and value > 1):
            return _error(f"{key} must be a number (a share between 0 and 1 for rates)")
    current.update(body)
    return jsonify(current)


@bp.post("/rate_limits")
def rate_limits():
    """Switch per-plan rate limits on or off (benchmarks switch them off)."""
    enabled = (request.get_json(silent=True) or {}).get("enabled")
    if not isinstance(enabled, bool):
        return _error("enabled must be true or false")
    state().rate_limits_enabled = enabled
    return jsonify(enabled=enabled)


@bp.post("/accounts/<subdomain>/plan")
def plan(subdomain):
    """Change an account's plan (trial, team, professional, enterprise, expired, free)."""
    account = state().accounts.get(subdomain)
    if account is None:
        return _error(f"no account {subdomain!r}")
    name = (request.get_json(silent=True) or {}).get("plan")
    if name not in PLANS:
        return _error("plan must be one of " + ", ".join(PLANS))
    account.plan = name
    return jsonify(subdomain=subdomain, plan=name)
