"""Related lists rendered once and served again while nothing they show has changed.

A CRM page polls its list every 30 seconds (views.py), and most polls find nothing new: rendering the
list again from the local copy costs its queries and template (milliseconds) each time. So each worker
process keeps the lists it rendered, keyed by everything that shapes one: the installation (its random
key, as a database may give a new installation the id of a removed one) and its local copy's version
(widget/local_copy.py: it changes in the transaction that changes what a list shows), the record, the
filter and page asked for, the page's language and the user's clock. A kept one is served while its key
still holds (before Flask by kept_answers.py, else by views.ticket_list). A list answered to htmx
carries no widget context (its links take the page's); should a template put one in, a kept list holds a
placeholder there and each answer puts in its own request's.

A Deal's list also depends on the Deal's Account, read from the CRM at most every hour (deals.py): its
rendering is kept only until then.
"""
import secrets
import threading
from collections import OrderedDict

from flask import current_app

from ..models import as_utc, utcnow

# Random per process, so no ticket's text can contain it.
CONTEXT_PLACEHOLDER = "widget-context-" + secrets.token_hex(16)
KEPT = 1000  # lists per process (a list is a few kB)


class RenderedLists:
    """A bounded map of key → (rendered list, kept until or None); the least recently used goes first."""

    def __init__(self, size=KEPT):
        self._lists, self._size, self._lock = OrderedDict(), size, threading.Lock()

    def get(self, key):
        with self._lock:
            kept = self._lists.get(key)
            if kept is None:
                return None
            body, until = kept
            if until is not None and as_utc(until) <= utcnow():
                del self._lists[key]
                return None
            self._lists.move_to_end(key)
            return body

    def put(self, key, body, until=None):
        with self._lock:
            self._lists[key] = (body, until)
            self._lists.move_to_end(key)
            while len(self._lists) > self._size:
                self._lists.popitem(last=False)


def list_key(installation_key, version, entity, record_id, filter_name, page, language, user):
    """Everything that shapes a rendered list: its installation and local copy version, its record, filter
    and page, the page's language and the user's clock (zone and locale)."""
    return (installation_key, version, entity, record_id, filter_name, page, language, user.get("time_zone"),
            user.get("locale"))


def lists():
    """This app's kept lists (one app per process in production; tests make many, each its own database)."""
    return current_app.extensions.setdefault("rendered_lists", RenderedLists())


def with_context(body, token):
    return body.replace(CONTEXT_PLACEHOLDER, token)
