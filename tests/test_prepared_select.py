"""extensions.PreparedSelect, the statement of every widget request run on a DBAPI connection: it reads
what SQLAlchemy's own execution reads (the statement's literals, JSON columns, a missing row), on SQLite
and on PostgreSQL, and leaves the pool's connections as it found them (on PostgreSQL it reads in
autocommit: the ORM's transactions after it must still be transactions)."""
import pytest

from widget import context
from widget.extensions import db
from widget.models import Installation, Ticket


def _reads_what_sqlalchemy_reads(app):
    def both(org_id):
        ours = context._SIGNER.first(org_id=org_id)
        theirs = db.session.execute(context._SIGNER.statement, {"org_id": org_id}).first()
        db.session.rollback()
        return ours, None if theirs is None else tuple(theirs)

    with app.app_context():
        db.session.add(Installation(org_id="org-9", org_name="さくら商事", data_center="jp", scope_type="profiles",
                                    scope_profiles=["営業部", "Sales Rep"]))
        db.session.commit()
        installation_id = db.session.scalar(db.select(Installation.id))
        ours, theirs = both("org-9")
        assert ours == theirs and ours.scope_profiles == ["営業部", "Sales Rep"]
        assert (ours.id, ours.status, ours.version) == (installation_id, "installed", 0)  # no write yet: the 0
        db.session.add(Ticket(installation_id=installation_id, zendesk_id=1, subject="Invoice", status="open"))
        db.session.commit()
        ours, theirs = both("org-9")
        assert ours == theirs and ours.version == 1
        assert both("org-404") == (None, None)

        db.session.remove()
        db.engine.dispose()  # the pool emptied: the connection the read opens and returns is the ORM's next
        context._SIGNER.first(org_id="org-9")
        db.session.get(Installation, installation_id).org_name = "Renamed"
        db.session.flush()
        db.session.rollback()
        assert db.session.scalar(db.select(Installation.org_name)) == "さくら商事"


def test_a_prepared_select_reads_what_sqlalchemy_reads_on_sqlite(app):
    _reads_what_sqlalchemy_reads(app)


@pytest.mark.postgres
def test_a_prepared_select_reads_what_sqlalchemy_reads_on_postgresql(postgres_app):
    _reads_what_sqlalchemy_reads(postgres_app)
