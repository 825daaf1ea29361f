"""No cookie session. The pages live in the CRM's cross-site iframe, where browsers block third-party
cookies, so every request is authorised by its signed widget context (widget/context.py) and the
product never keeps anything in Flask's cookie session. Flask would still read and verify a session
cookie on every request; this interface opens a null session at once, which refuses any write (a view
that tried would fail loudly, not set a cookie an iframe may never send back)."""
from flask.sessions import SessionInterface


class NoSessions(SessionInterface):
    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        pass  # a null session has nothing to save
