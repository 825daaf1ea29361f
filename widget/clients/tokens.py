"""Where a client's OAuth token lives and the one place it is renewed: a *token keeper*.

A keeper has `current()`, the token to call with, and `refresh(stale_access_token, fetch)`, which
renews the token that failed or is about to expire; `fetch(token)` asks the service's token endpoint
with that token's refresh token and returns the new token. A keeper refreshes once for every caller that
saw the same stale token: when its current access token already differs from `stale_access_token`,
another thread renewed it, and that token is returned without asking the service again (Zendesk rotates
refresh tokens, so a second refresh with the old one would be refused).

`TokenKeeper` keeps the token in memory; `widget.connections` has the keeper of a stored grant, which
also coordinates with other processes and saves the token before anyone uses it.
"""
import threading


class TokenKeeper:
    """The token in memory, refreshed under a lock; every new token goes to `on_token` (to persist it)."""

    def __init__(self, token, on_token=None):
        self.token, self.on_token = dict(token), on_token
        self.lock = threading.Lock()

    def current(self):
        return self.token

    def refresh(self, stale_access_token, fetch):
        with self.lock:
            if self.token.get("access_token") != stale_access_token:
                return self.token
            self.token = dict(fetch(self.token))
            if self.on_token is not None:
                self.on_token(dict(self.token))
            return self.token
