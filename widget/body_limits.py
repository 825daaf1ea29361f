"""How much of a request body we read: each kind of route its own limit, refused with 413 before the
body is read when its Content-Length says it is larger, and as soon as a streamed (chunked) body passes
it. Nothing is signed or verified until its body is read whole, so a body must never be read beyond its
route's limit: an unsigned 300 MB post would sit in memory until its 401.

Each body is read here, before anything else (the CSRF check reads forms), at most one byte past the
limit: Werkzeug's `request.max_content_length` refuses a larger Content-Length at once but ends a
streamed body at the limit without a word, so the one byte more tells a longer body from one that just
fits. Views then get the body from Werkzeug's cache (`request.get_data()`, `request.form`). A server
that ends chunked bodies itself says so (`wsgi.input_terminated`: gunicorn and Werkzeug's server do);
without it, Werkzeug reads a body with no Content-Length as empty.

The limits, from what the senders really send:
- Forms of our pages (settings, wizard, dashboard, record widgets): FORM_MAX_BODY. The largest is a
  reply of 30,000 characters (record/reply.py), about 270 KB URL-encoded when Japanese (9 bytes a
  character); the wizard's field mapping keeps to 200 pairs, the organization picker sends ids.
- The marketplace's install, permissions and uninstall calls: LIFECYCLE_MAX_BODY. A few ids, the
  installer and the chosen profiles' names: about a kilobyte.
- Zendesk webhooks and Zoho CRM notifications: WEBHOOK_MAX_BODY. A Zendesk event carries one object's
  `detail` and its change (a ticket's description and a new comment's body at most); a CRM
  notification carries record ids and, for edits, the changed fields' values. A delivery refused for
  its size is not lost: the catch-up sync reads the change from Zendesk's and the CRM's own lists.
"""
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

FORM_MAX_BODY = 1024 * 1024
LIFECYCLE_MAX_BODY = 64 * 1024
WEBHOOK_MAX_BODY = 1024 * 1024
# The server-to-server routes, by blueprint: their own limits, and their JSON error body when refused.
JSON_ROUTE_LIMITS = {"lifecycle": LIFECYCLE_MAX_BODY, "webhooks": WEBHOOK_MAX_BODY}


def init_app(app):
    """Call before anything that registers a `before_request` reading bodies (Flask-WTF's CSRF check)."""
    app.config["MAX_CONTENT_LENGTH"] = FORM_MAX_BODY
    app.before_request(read_body_within_limit)
    app.register_error_handler(RequestEntityTooLarge, too_large)


def route_limit():
    return JSON_ROUTE_LIMITS.get(request.blueprint, FORM_MAX_BODY)


def read_body_within_limit():
    if not request.content_length and "Transfer-Encoding" not in request.headers:
        return  # no body follows (RFC 9112 §6.3): nothing to read, as for every GET the widget polls
    limit = route_limit()
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    request.max_content_length = limit + 1
    if len(request.get_data()) > limit:
        raise RequestEntityTooLarge()


def too_large(error):
    limit = route_limit()
    if request.blueprint in JSON_ROUTE_LIMITS:
        return jsonify(error="payload_too_large",
                       message=f"The request body is larger than {limit // 1024} KB, the most this address "
                               "accepts."), 413
    message = _("What you sent is larger than %(size)s MB, the most a form here accepts. Shorten it and send "
                "it again.", size=limit // (1024 * 1024))
    return render_template("refused.html", message=message), 413
