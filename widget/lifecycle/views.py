"""Lifecycle URLs the CRM marketplace calls: install, permission change, uninstall (docs/architecture.md#lifecycle,
docs/architecture.md#uninstall)."""
import json

from flask import Blueprint, current_app, jsonify, request

from ..connections import connection
from ..extensions import csrf, db
from ..models import SCOPE_TYPES, Installation, new_context_secret
from ..security import verify_marketplace_request
from . import replay
from .install import ProvisioningError, on_crm_connected
from .uninstall import uninstall as uninstall_installation

bp = Blueprint("lifecycle", __name__, url_prefix="/lifecycle")
csrf.exempt(bp)  # signed server-to-server calls, no browser form

SUPPORTED_DATA_CENTERS = ("jp", "us", "in", "au", "ca", "sa")  # F3
SUPPORTED_NAMES = "JP, US, IN, AU, CA and SA"


class LifecycleError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(LifecycleError)
def lifecycle_error(error):
    return jsonify(error=error.code, message=error.message), error.status


def _signed_body():
    """The JSON body of a correctly signed, fresh request seen for the first time; 401 (not signed,
    expired) or 409 (a replay) otherwise."""
    raw = request.get_data()
    if not verify_marketplace_request(current_app.config["MARKETPLACE_SECRET"], request.headers, raw):
        raise LifecycleError(401, "invalid_signature",
                             "The request is not signed by the marketplace, or its signature has expired.")
    if not replay.first_use(request.headers["X-Marketplace-Signature"], request.headers["X-Marketplace-Timestamp"]):
        raise LifecycleError(409, "replayed_request",
                             "This signed request was already received; each call must be signed afresh.")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LifecycleError(400, "invalid_request", "The request body must be a JSON object.")
    return body


def _text(body, key):
    value = body.get(key)
    if not isinstance(value, (str, int)) or str(value).strip() == "":
        raise LifecycleError(400, "invalid_request", f"`{key}` is required.")
    return str(value).strip()


def _scope(body):
    scope = body.get("scope")
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise LifecycleError(400, "invalid_scope", "`scope.type` must be one of: admins, all, profiles.")
    profiles = scope.get("profiles") or []
    if scope["type"] == "profiles":
        if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) and p for p in profiles):
            raise LifecycleError(400, "invalid_scope", "Choose at least one profile when installing for chosen profiles.")
        return scope["type"], sorted(set(profiles))
    return scope["type"], []


def _require_admin(person, action):
    if not isinstance(person, dict) or person.get("is_admin") is not True:
        raise LifecycleError(403, "admin_required",
                             f"Only a Zoho CRM administrator can {action} Zendesk for Zoho CRM. "
                             "Ask an administrator of your CRM account to do it.")


@bp.post("/install")
def install():
    """Record the installation (F1, F3, F4) and answer its context secret, the one time it is sent.

    Installing again an org that is installed answers the same installation with a new context secret
    (the old one signs nothing from then on): the secret is never sent twice, and a CRM side that lost
    its copy (or never got our answer) gets a working one by installing again, rather than a secret-less
    answer it could do nothing with. Contexts signed with the old secret stop working: open pages reload."""
    body = _signed_body()
    org_id = _text(body, "org_id")
    _require_admin(body.get("installer"), "install")
    data_center = str(body.get("data_center") or "").strip().lower()
    if data_center not in SUPPORTED_DATA_CENTERS:
        raise LifecycleError(422, "unsupported_data_center",
                             f"Zendesk for Zoho CRM is available only for Zoho CRM accounts in the {SUPPORTED_NAMES} "
                             f"data centres; this account is in {data_center.upper() or 'an unknown data centre'}.")
    scope_type, profiles = _scope(body)
    existing = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
    if existing is not None and existing.status == "uninstalling":
        # An earlier uninstall is unfinished: finish it first, never mix old and new state.
        result = uninstall_installation(existing)
        if not result.done:
            pending = result.answer()[0]["pending"]
            raise LifecycleError(409, "uninstall_pending",
                                 "The previous uninstall of Zendesk for Zoho CRM is not finished yet; "
                                 "try installing again later. " + " ".join(p["message"] for p in pending))
        existing = None
    if existing is not None:
        existing.context_secret = new_context_secret()
        db.session.commit()
        return jsonify(_provisioned(existing, _install_answer(existing))), 200
    installer = body["installer"]
    installation = Installation(org_id=org_id, org_name=str(body.get("org_name") or ""), data_center=data_center,
                                scope_type=scope_type, scope_profiles=profiles,
                                installer_id=str(installer.get("id") or ""),
                                installer_email=str(installer.get("email") or ""),
                                context_secret=new_context_secret())
    db.session.add(installation)
    db.session.commit()
    return jsonify(_install_answer(installation)), 201


def _provisioned(installation, answer):
    """Re-install with a CRM grant already stored: make sure the modules and channel exist (F7)."""
    if connection(installation, "crm") is not None:
        try:
            on_crm_connected(installation)
        except ProvisioningError as error:
            answer["provisioning_error"] = error.message  # the install itself stands; settings can retry
    return answer


def _install_answer(installation):
    return {**_scope_answer(installation), "context_secret": installation.context_secret}


def _scope_answer(installation):
    return {"installation_id": installation.id,
            "scope": {"type": installation.scope_type, "profiles": installation.scope_profiles}}


def _installation(body):
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=_text(body, "org_id")))
    if installation is None:
        raise LifecycleError(404, "not_installed", "Zendesk for Zoho CRM is not installed in this CRM account.")
    return installation


@bp.post("/permissions")
def permissions():
    """Change who may use the extension (F4)."""
    body = _signed_body()
    _require_admin(body.get("changed_by"), "change the permissions of")
    installation = _installation(body)
    installation.scope_type, installation.scope_profiles = _scope(body)
    db.session.commit()
    return jsonify(_scope_answer(installation))


@bp.post("/uninstall")
def uninstall():
    """Remove what the installation created outside and every row of it (F23, F24, docs/architecture.md#uninstall);
    idempotent. 200 when done; 202 with the steps still pending (retried by the next call and by
    `flask support retry-uninstalls`)."""
    body = _signed_body()
    _require_admin(body.get("uninstaller"), "uninstall")
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=_text(body, "org_id")))
    if installation is None:
        return jsonify(status="uninstalled", manual=[])
    answer, status = uninstall_installation(installation).answer()
    return jsonify(answer), status
