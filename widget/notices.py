"""Messages written by the sync for people to read later (a run's end, a failed record, a pause).

A worker writing one has no reader, so no language: a `Notice` is its English text (for logs, the
command line and the database's `message` columns) that also remembers its message id and values. The
`*_notice` JSON columns keep those, and `shown` translates them when a page is rendered, in the reader's
language. A message without a notice (an outside service's own words) is shown as it was written.
"""
from flask_babel import gettext

TEXT_LIMIT = 1000


class Notice(str):
    """English text that remembers its message id and values; values may be notices themselves."""

    def __new__(cls, msgid, **params):
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text

    def stored(self):
        return {"msgid": self.msgid,
                "params": {name: value.stored() if isinstance(value, Notice) else str(value)
                           for name, value in self.params.items()}}


notice = Notice  # the keyword `pybabel extract -k notice` finds the message ids by


def stored(message, limit=TEXT_LIMIT):
    """(text, notice) for a message column of `limit` characters and its `*_notice` column."""
    if message is None:
        return None, None
    return str(message)[:limit], message.stored() if isinstance(message, Notice) else None


def shown(text, notice_json):
    """The message in the reader's language when it was stored with its notice; else as written (or as the
    catalog has it, for messages stored before notices were)."""
    if not notice_json:
        return gettext(text) if text else ""
    params = {name: shown(None, value) if isinstance(value, dict) else value
              for name, value in notice_json.get("params", {}).items()}
    return gettext(notice_json["msgid"], **params)
