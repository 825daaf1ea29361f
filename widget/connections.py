"""Clients for an installation's outside services, built from their stored (encrypted) grants.

A client's token is kept by a `GrantKeeper`: one refresh at a time per grant, across the threads of a
process and across processes (workers, the served app, the CLI), the new token committed before anyone
uses it. A grant whose refresh the service refuses for good is marked `revoked` and the installation's
sync paused until an administrator re-authorizes.
"""
import os
import threading
import time
import weakref
from urllib.parse import urlparse

import requests
from flask import current_app
from requests_oauthlib import OAuth2Session

from .clients import crm, zendesk
from .clients.http import AuthenticationError, NetworkError, RefreshRefused
from .extensions import db
from .leases import acquire_lease, holder_name, release_lease
from .models import Connection, SyncSettings
from .notices import Notice, notice

SERVICE_NAMES = {"crm": "Zoho CRM", "zendesk": "Zendesk"}
# A refresh (one token call, its retries included) ends well within the lease; waiters give up after it.
REFRESH_LEASE_SECONDS = 60
REFRESH_WAIT_SECONDS = 60
REFRESH_POLL_SECONDS = 0.05

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def allow_http_to_loopback_sandboxes(config):
    """requests-oauthlib refuses plain-http URLs unless OAUTHLIB_INSECURE_TRANSPORT is set. The local
    sandboxes are http on loopback; allow that (and only that) outside production."""
    urls = [config.get("ZENDESK_BASE_URL", ""), config.get("CRM_SANDBOX_URL", "")]
    sandboxed = any(urlparse(url).scheme == "http" and urlparse(url).hostname in LOOPBACK_HOSTS for url in urls)
    if sandboxed and config.get("WIDGET_ENV") != "production":
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def connection(installation, service):
    """The installation's grant for `service` ("zendesk" or "crm"), or None."""
    return db.session.scalar(db.select(Connection).filter_by(installation_id=installation.id, service=service))


def save_grant(installation, service, token, account="", api_base="", plan=""):
    """Store (or replace) a grant, active again after any revocation; the settings panel checks it anew."""
    grant = connection(installation, service) or Connection(installation=installation, service=service)
    grant.token, grant.account, grant.api_base, grant.status = token, account, api_base, "active"
    grant.plan, grant.checked_at = plan, None
    db.session.add(grant)
    db.session.commit()
    return grant


def mark_revoked(grant):
    """The service refused the grant for good (revoked, or its refresh token expired)."""
    grant.status = "revoked"
    db.session.commit()


_grant_locks = {}  # grant id -> lock: the clients of one grant in this process refresh one at a time
_grant_locks_guard = threading.Lock()


def _grant_lock(grant_id):
    with _grant_locks_guard:
        return _grant_locks.setdefault(grant_id, threading.Lock())


class GrantKeeper:
    """The token keeper (widget.clients.tokens) of a stored grant.

    A refresh runs in an application context of its own (a database session of its own), so it works
    from any thread and never commits the caller's unfinished work. It holds this process's lock of the
    grant, then the grant's lease (`token:crm`, `token:zendesk`) against other processes, and re-reads
    the stored token: when another holder already renewed it, that token is used with no service call;
    else the stored token (its refresh token is the newest) is renewed and committed before it is used.
    """

    def __init__(self, grant):
        self.app = current_app._get_current_object()
        self.grant_id, self.installation_id, self.service = grant.id, grant.installation_id, grant.service
        self.token = grant.token
        self.lock = _grant_lock(grant.id)

    def current(self):
        return self.token

    def refresh(self, stale_access_token, fetch):
        with self.lock, self.app.app_context():
            name, holder = f"token:{self.service}", holder_name()
            self._wait_for_lease(name, holder)
            try:
                self.token = self._renew(stale_access_token, fetch)
                return self.token
            finally:
                db.session.rollback()
                release_lease(self.installation_id, name, holder)

    def _wait_for_lease(self, name, holder):
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        while not acquire_lease(self.installation_id, name, holder, seconds=REFRESH_LEASE_SECONDS):
            if time.monotonic() > deadline:
                raise NetworkError(f"{SERVICE_NAMES[self.service]}: another process is still renewing the access "
                                   "token", sent=False)
            time.sleep(REFRESH_POLL_SECONDS)

    def _renew(self, stale_access_token, fetch):
        grant = db.session.get(Connection, self.grant_id)
        if grant is None or grant.status == "revoked":  # refused for another holder, or removed meanwhile
            raise RefreshRefused(self._refused_message(notice("the grant was revoked")), code="revoked")
        stored = grant.token
        if stored.get("access_token") != stale_access_token:
            return stored
        try:
            fresh = dict(fetch(stored))
        except AuthenticationError as error:
            raise self._refused(grant, error) from None
        grant.token = fresh
        db.session.commit()
        return fresh

    def _refused(self, grant, error):
        """Mark the grant revoked and pause the installation's sync until it is re-authorized."""
        message = self._refused_message(error.message)
        grant.status = "revoked"
        settings = db.session.get(SyncSettings, self.installation_id)
        if settings is not None:
            settings.pause(message)
        db.session.commit()
        return RefreshRefused(message, status=error.status, code=error.code)

    def _refused_message(self, detail):
        return notice("%(service)s refused to renew the extension's access (%(detail)s). An administrator must "
                      "re-authorize %(service)s in the extension's settings.",
                      service=SERVICE_NAMES[self.service], detail=detail if isinstance(detail, Notice) else detail[:60])


def _closing(client, session):
    """Close the client's session (its pooled sockets) when the client is garbage-collected, so no
    socket is left for the interpreter to warn about."""
    weakref.finalize(client, session.close)
    return client


def zendesk_base_url(installation):
    return zendesk.account_base_url(current_app.config["ZENDESK_BASE_URL"], installation.zendesk_subdomain)


def zendesk_client(installation, grant=None, **options):
    """A ZendeskClient on the installation's Zendesk grant."""
    grant = grant or connection(installation, "zendesk")
    config = current_app.config
    session = OAuth2Session(config["ZENDESK_CLIENT_ID"])
    client = zendesk.ZendeskClient(session, zendesk_base_url(installation), tokens=GrantKeeper(grant),
                                   client_id=config["ZENDESK_CLIENT_ID"],
                                   client_secret=config["ZENDESK_CLIENT_SECRET"], **options)
    return _closing(client, session)


def crm_data_centres():
    return crm.data_centres(current_app.config["CRM_SANDBOX_URL"])


def crm_client(installation, grant=None, **options):
    """A CrmClient on the installation's CRM grant, in the org's own data centre."""
    grant = grant or connection(installation, "crm")
    config = current_app.config
    centre = crm_data_centres()[installation.data_center]
    options.setdefault("max_concurrency", crm.EDITION_CONCURRENCY.get(installation.crm_edition or "free", 5))
    session = requests.Session()
    keeper = GrantKeeper(grant)
    client = crm.CrmClient(session, grant.api_base or centre.api_domain, keeper.token, tokens=keeper,
                           accounts_server=centre.accounts_server,
                           client_id=config["CRM_CLIENT_ID"], client_secret=config["CRM_CLIENT_SECRET"], **options)
    return _closing(client, session)
