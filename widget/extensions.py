"""Flask extensions, created unbound and initialised in the app factory."""
import sqlite3
from collections import namedtuple
from contextlib import contextmanager

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

db = SQLAlchemy()
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
htmx = Htmx()


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, connection_record):
    """The embedded default (SQLite): write-ahead logging, so the webhook receiver's writes and the
    sync workers' reads don't block each other, and a sync per commit of the log only, not of every
    write (the inbox stores each delivery before answering). A writer waits up to 15 s for another
    connection's write to commit (Python's default is 5 s): a token refresh commits on a connection of
    its own while sync threads write. NB: SQLite's settings exist only as
    PRAGMA statements; nothing else in the project writes SQL text."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


def insert_on_conflict(dialect_name):
    """The INSERT of the database kind (`engine.dialect.name`), with its ON CONFLICT clauses. NB:
    PostgreSQL's and SQLite's are alike, and SQLAlchemy has no portable one; they are the two databases
    we run on."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


@contextmanager
def autocommit():
    """A pooled connection on which each statement is a transaction of its own, committed when it ends:
    one round trip to the database for a statement that needs no other (no BEGIN, no COMMIT)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


class PreparedSelect:
    """A Core SELECT compiled once per database and run on a pooled DBAPI connection, its row read with
    the columns' own result processing. For the one query of every widget request (the context check):
    SQLAlchemy's execution path (Connection, compiled cache, CursorResult) costs about three times the
    query itself there (README "Benchmarks"). Still the statement SQLAlchemy would send: no SQL text.
    Its parameters are given as the database driver takes them (strings, numbers)."""

    def __init__(self, statement):
        self.statement, self._compiled = statement, {}
        self._row = namedtuple("Row", [column.key for column in statement.selected_columns])

    def first(self, **params):
        """The first row (its values by the selected columns' names), or None."""
        engine = db.engine
        sql, literals, order, processors = self._compiled.get(engine) or self._compile(engine)
        values = {**literals, **params}
        connection = engine.raw_connection()
        # NB: psycopg opens a transaction before a statement: in autocommit, a read is one round trip, not
        # three (BEGIN, the read, the pool's ROLLBACK). SQLite's driver reads outside a transaction already.
        autocommit = engine.dialect.name == "postgresql"
        try:
            if autocommit:
                engine.dialect.set_isolation_level(connection.driver_connection, "AUTOCOMMIT")
            cursor = connection.cursor()
            cursor.execute(sql, tuple(values[name] for name in order) if order is not None else values)
            row = cursor.fetchone()
            cursor.close()
        finally:
            if autocommit:
                engine.dialect.reset_isolation_level(connection.driver_connection)
            connection.close()  # back to the pool
        if row is None:
            return None
        return self._row._make(value if process is None else process(value) for value, process in zip(row, processors))

    def _compile(self, engine):
        compiled = self.statement.compile(dialect=engine.dialect)
        literals = compiled.construct_params(_check=False)  # the statement's own values (a coalesce's 0)
        processors = [column.type.result_processor(engine.dialect, None)
                      for column in self.statement.selected_columns]
        entry = (str(compiled), literals, compiled.positiontup if compiled.positional else None, processors)
        self._compiled[engine] = entry
        return entry
