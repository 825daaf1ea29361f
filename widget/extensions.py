"""Flask extensions, created unbound and initialised in the app factory."""
import sqlite3
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
