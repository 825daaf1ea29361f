"""Operations endpoints: health check."""
from flask import Blueprint, jsonify

from ..extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability, for load balancers."""
    db.session.execute(db.select(db.literal(1)))
    return jsonify(status="ok")
