"""What an admin entered in a wizard step and left without saving — by Back, or by another module's tab —
kept per admin and step and shown again, marked unsaved, when they return to the step. Saving the step or
discarding the draft forgets it; a draft older than DRAFT_HOURS is forgotten too (the choices saved since
may have moved on). The pages live in a cross-site iframe without cookies, hence the table.
"""
from datetime import timedelta

from flask import g, request
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import WizardDraft, as_utc, utcnow

DRAFT_HOURS = 24
NOT_KEPT = ("csrf_token", "ctx", "action")  # the form's token and the move itself are not what was entered


def _row(step):
    return db.session.scalar(db.select(WizardDraft).filter_by(installation_id=g.installation.id,
                                                              user_id=str(g.user["id"]), step=step))


def keep(step):
    """The request's form, as the step's draft."""
    fields = [[name, value] for name, value in request.form.items(multi=True) if name not in NOT_KEPT]
    row = _row(step) or WizardDraft(installation_id=g.installation.id, user_id=str(g.user["id"]), step=step)
    row.fields, row.saved_at = fields, utcnow()
    db.session.add(row)
    db.session.commit()


def restored(step):
    """The step's draft as form data, or None."""
    row = _row(step)
    if row is None:
        return None
    if as_utc(row.saved_at) < utcnow() - timedelta(hours=DRAFT_HOURS):
        forget(step)
        return None
    return MultiDict([tuple(pair) for pair in row.fields])


def forget(step):
    db.session.execute(db.delete(WizardDraft).where(WizardDraft.installation_id == g.installation.id,
                                                    WizardDraft.user_id == str(g.user["id"]),
                                                    WizardDraft.step == step))
    db.session.commit()
