"""Operations endpoints: the health check and the Prometheus metrics."""
import hmac

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..extensions import db
from .metrics import CONTENT_TYPE, exposition

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability, for load balancers."""
    db.session.execute(db.select(db.literal(1)))
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics():
    """Service-wide gauges and the processes' counts (ops/metrics.py), only for `Authorization: Bearer
    $METRICS_TOKEN`. Production refuses to start without the token (config.py); only development, without
    one, leaves it open."""
    token = current_app.config["METRICS_TOKEN"]
    if not token and current_app.config["WIDGET_ENV"] != "development":
        abort(404)
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        abort(401)
    return Response(exposition(), content_type=CONTENT_TYPE)
