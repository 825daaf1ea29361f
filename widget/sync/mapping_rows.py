"""An installation's field mapping (FieldMapping rows; the rules are mapping.py's) and the CRM fields
it reads."""
from sqlalchemy.exc import IntegrityError

from ..clients.crm import MAX_RECORDS_PER_CALL
from ..clients.http import chunks
from ..extensions import db
from ..models import FieldMapping
from . import mapping


def ensure_default_mappings(installation):
    """The standard FieldMapping rows (mapping.STANDARD) for every module that has none yet; an admin's
    own rows are kept. Idempotent."""
    existing = {(row.module, row.crm_field) for row in db.session.scalars(
        db.select(FieldMapping).filter_by(installation_id=installation.id))}
    for module, rows in mapping.STANDARD.items():
        for row in rows:
            if (module, row.crm_field) not in existing:
                db.session.add(FieldMapping(installation_id=installation.id, module=module, crm_field=row.crm_field,
                                            zendesk_field=row.zendesk_field, direction=row.direction,
                                            value_map=dict(row.value_map), standard=True))
    try:
        db.session.commit()
    except IntegrityError:  # created meanwhile by another worker
        db.session.rollback()


def mappings_for(ctx, module):
    """The installation's mapping rows of a module (the standard ones are created on first use)."""
    rows = _mapping_rows(ctx.installation, module)
    if not rows:
        ensure_default_mappings(ctx.installation)
        rows = _mapping_rows(ctx.installation, module)
    return [mapping.Field(r.crm_field, r.zendesk_field, r.direction, dict(r.value_map or {})) for r in rows]


def _mapping_rows(installation, module):
    return db.session.scalars(db.select(FieldMapping).filter_by(installation_id=installation.id, module=module)
                              .order_by(FieldMapping.id)).all()


def crm_fields(module, ctx=None):
    """The CRM fields to read for `module`: with `ctx`, the installation's mapping; else the standard one."""
    return mapping.crm_fields(module, mappings_for(ctx, module) if ctx is not None else ())


def read_records(ctx, module, ids):
    """The CRM records of `module` with these ids, with the fields the mapping reads: GET /{module}?ids=
    takes 100 ids a call (docs/outside-apis.md#crm-reading-records)."""
    fields, records = crm_fields(module, ctx), []
    for batch in chunks(ids, MAX_RECORDS_PER_CALL):
        records.extend(ctx.crm.list_records(module, fields, ids=",".join(batch)))
    return records
