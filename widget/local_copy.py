"""The version of what an installation's related lists show, so a list rendered once can be served
again until something in it changes (widget/record/rendered.py).

A related list shows tickets, the Links that tie Zendesk users and organizations to CRM records, a
Deal's Account and whether the Zendesk grant works: the WATCHED tables. Every transaction that writes
one of them adds one to its installation's `LocalCopyVersion` as it commits, in the same transaction:
a reader sees the new version exactly when it sees the new rows, a process killed before its commit
changed neither, and none is left behind. The version is bumped at commit, not at the first write,
so a transaction holds the version's row lock only while it commits: two writers of one installation
(a sync page and a webhook drain) never wait on each other for longer, and never deadlock on it (the
holder waits for nothing else).

Writes are found where they happen, by SQLAlchemy's session events: objects in a flush, and bulk
statements (`db.insert(Ticket)`, `db.delete(Link).where(...)`), whose installation is read from their
rows or their WHERE clause. A bulk statement on a watched table that names no installation is refused
(LocalCopyUnknown): a list would go on showing what it changed.
"""
from sqlalchemy import event, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter

from .extensions import db, insert_on_conflict
from .models import Installation, LocalCopyVersion

WATCHED = frozenset({"ticket", "link", "deal_account", "connection"})
_CHANGED = "local_copy_changed"  # Session.info key: the installations this transaction changed


class LocalCopyUnknown(RuntimeError):
    """A bulk write to a watched table whose installation can't be read from the statement."""


def version_of(installation_id):
    """The version of the installation `installation_id` (a column), as a query's column (0 before its
    first change)."""
    return db.func.coalesce(db.select(LocalCopyVersion.version)
                            .where(LocalCopyVersion.installation_id == installation_id)
                            .scalar_subquery(), 0).label("version")


def _changed(session):
    return session.info.setdefault(_CHANGED, set())


@event.listens_for(Session, "before_flush")
def _objects_written(session, flush_context, instances):
    written = [obj for obj in session.new | session.deleted if _watched(obj)]
    written += [obj for obj in session.dirty if _watched(obj) and session.is_modified(obj)]
    _changed(session).update(obj.installation_id for obj in written)


@event.listens_for(Session, "do_orm_execute")
def _statement_written(state):
    table = getattr(state.statement, "table", None)
    if not (state.is_insert or state.is_update or state.is_delete) or getattr(table, "name", None) not in WATCHED:
        return
    installations = _installations_in(state)
    if not installations:
        raise LocalCopyUnknown(f"a write to {table.name} must name its installation_id")
    _changed(state.session).update(installations)


@event.listens_for(Session, "before_commit")
def _bump_versions(session):
    session.flush()  # what the commit would flush next, so that its writes count
    installations = sorted(i for i in session.info.pop(_CHANGED, ()) if i is not None)
    if installations:
        session.execute(_upsert(session, installations))


@event.listens_for(Session, "after_soft_rollback")
def _forget(session, previous_transaction):
    session.info.pop(_CHANGED, None)


def _watched(obj):
    return getattr(getattr(obj, "__table__", None), "name", None) in WATCHED


def _installations_in(state):
    """The installation ids a bulk statement writes: from its rows, else from its WHERE clause."""
    rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
    found = {row["installation_id"] for row in rows if "installation_id" in row}
    where = getattr(state.statement, "whereclause", None)
    for clause in visitors.iterate(where) if where is not None else ():
        if isinstance(clause, BinaryExpression) and getattr(clause.left, "name", None) == "installation_id" \
                and isinstance(clause.right, BindParameter) and clause.operator in (operators.eq, operators.in_op):
            value = clause.right.effective_value
            found.update(value if isinstance(value, (list, tuple, set)) else [value])
    return found


def _upsert(session, installations):
    """One more for each installation that still exists (a first change creates its row)."""
    insert = insert_on_conflict(session.get_bind().dialect.name)
    existing = db.select(Installation.id, literal(1)).where(Installation.id.in_(installations))
    return insert(LocalCopyVersion).from_select(["installation_id", "version"], existing).on_conflict_do_update(
        index_elements=["installation_id"], set_={"version": LocalCopyVersion.version + 1})
