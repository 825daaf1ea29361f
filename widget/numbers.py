"""Whole numbers from URLs and forms: page numbers and ids, kept to what the database and the pages can
hold. Anyone can type any URL into an iframe's address or replay a form: a number of 20 digits must give
the nearest page or a 404, never an integer overflow in the database (a 500).

- Page numbers (`?page=`): clamped to 1..MAX_PAGE (the view clamps again to its last page); anything
  that is not a whole number answers 400 with a plain message.
- Ids in a URL (`<id:ticket_id>`): 1..MAX_ID, the largest a 64-bit database column holds (Zendesk's
  ids are 64-bit); any other value matches no route, so 404.
- Ids in a form (`whole_number`): None when not a whole number within 0..MAX_ID; the form drops it.
"""
import re

from flask import render_template
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1
MAX_PAGE = 1_000_000  # 10 million tickets at 10 a page; more than any one record has
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses


class NotAPageNumber(BadRequest):
    """A `page` that is not a whole number."""


class IdConverter(IntegerConverter):
    """`<id:name>`: a whole number from 1 to MAX_ID."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app):
    app.url_map.converters["id"] = IdConverter
    app.register_error_handler(NotAPageNumber, _not_a_page_number)


def whole_number(text, maximum=MAX_ID):
    """`text` as a whole number from 0 to `maximum`, else None."""
    text = str(text if text is not None else "").strip()
    if not WHOLE_NUMBER.fullmatch(text) or text.startswith("-") or len(text.lstrip("+0")) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None


def page_number(text):
    """The page a query asks for: 1 when absent or empty; the nearest of 1..MAX_PAGE for any whole number
    (zero, negative, or of any number of digits); NotAPageNumber (400) for anything else."""
    text = (text or "").strip()
    if not text:
        return 1
    if not WHOLE_NUMBER.fullmatch(text):
        raise NotAPageNumber()
    if text.startswith("-"):
        return 1
    digits = text.lstrip("+0")
    if len(digits) > len(str(MAX_PAGE)):  # before int(): Python refuses over 4,300 digits
        return MAX_PAGE
    return min(max(int(digits or "0"), 1), MAX_PAGE)


def _not_a_page_number(error):
    return render_template("refused.html", message=_("The page number in this address is not a number. Open the "
                                                     "list again from Zoho CRM.")), 400
