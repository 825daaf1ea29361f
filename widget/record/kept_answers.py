"""A related list's poll answered before Flask when its rendering is kept.

A CRM page polls its list every 30 seconds (views.py), and most polls find the list as it was: handing
back the kept rendering (rendered.py) is the widget's commonest work. For it, Flask's request machinery
(the request context, routing, hooks, the response object) costs more than the answer itself (README
"The record widget"). So this WSGI middleware, in front of Flask, answers such a request itself when
everything the view would do comes down to that: an htmx GET of a record's list, with a valid context
of an installation that lets its user in, bound to that record, not due for a renewal, and a kept
rendering under the key the view would use. Anything else (a refusal, a renewal, a list not kept, an
error) goes on to Flask, which answers it as always. The answer is the view's: the same body and
headers (a renewed context included), a request id, the request's log line and its time in the metrics.
"""
import logging
import re
import time

from flask import current_app

from .. import context
from ..headers import security_header_values
from ..numbers import NotAPageNumber, page_number
from ..ops import logs
from . import listing, rendered

ENDPOINT = "record.ticket_list"  # views.ticket_list, whose kept answers these are
LIST_PATH = re.compile(r"/record/(Leads|Contacts|Accounts|Deals)/([^/]+)/tickets")
log = logging.getLogger("widget.record.kept_answers")  # the error's kind only: a message may quote a record


class KeptListAnswers:
    """`app.wsgi_app = KeptListAnswers(app)`: kept lists answered here, every other request by Flask."""

    def __init__(self, app):
        self.app, self.flask = app, app.wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("HTTP_HX_REQUEST", "").lower() == "true":
            started = time.perf_counter()
            request = self.app.request_class(environ)
            match = LIST_PATH.fullmatch(request.path)
            if match:
                with self.app.app_context():
                    try:
                        answer = kept_answer(request, *match.groups())
                    except Exception as failure:  # e.g. the database unreachable: Flask answers, as for any view
                        log.warning("kept list not answered", extra={"error": type(failure).__name__})
                        answer = None
                if answer is not None:
                    body, headers, installation_id = answer
                    request_id = logs.request_id_for(request.headers.get(logs.REQUEST_ID_HEADER))
                    start_response("200 OK", [*headers, (logs.REQUEST_ID_HEADER, request_id)])
                    logs.answered(request_id, "GET", ENDPOINT, 200, time.perf_counter() - started, installation_id)
                    return [body]
        return self.flask(environ, start_response)


def kept_answer(request, entity, record_id):
    """(body, headers, installation id) of the list as views.ticket_list would answer it from its kept
    rendering, or None when it would do anything more."""
    token = request.headers.get(context.HEADER) or request.args.get("ctx")
    now = context.clock()
    try:
        checked = context.checked_context(token, now)
        filter_name, page = request.args.get("status") or listing.DEFAULT_FILTER, page_number(request.args.get("page"))
    except (context.Refused, NotAPageNumber):
        return None
    signer, claims = checked.signer, checked.claims
    if (not context.admits(signer, claims) or (claims.get("entity"), claims.get("entity_id")) != (entity, record_id)
            or context.renewal_due(claims, now)):
        return None
    kept = rendered.lists().get(rendered.list_key(signer.installation_key, signer.version, entity, record_id,
                                                  filter_name, page, checked.language, claims["user"]))
    if kept is None:
        return None
    active = request.headers.get(context.BACKGROUND_HEADER) != "1"
    token_back = context.touched(checked.secret, claims, now, active) or token
    body = rendered.with_context(kept, token_back).encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
               ("Vary", "HX-Request"),
               *security_header_values(current_app.config["SANDBOX_ORIGIN"], "record", ENDPOINT)]
    if token_back != token:
        headers.append((context.RENEWED_HEADER, token_back))
    return body, headers, signer.id
