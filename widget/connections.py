"""Clients for an installation's outside services, built from its stored (encrypted) grants.

Rotated tokens are written back through the clients' `on_token` callbacks, so a refresh is never lost;
a grant the service refuses for good is marked `revoked`, and the admin is asked to re-authorize.
"""
import os
import weakref
from urllib.parse import urlparse

import requests
from flask import current_app
from requests_oauthlib import OAuth2Session

from .clients import crm, zendesk
from .extensions import db
from .models import Connection

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


def save_grant(installation, service, token, account="", api_base=""):
    """Store (or replace) a grant, active again after any revocation."""
    grant = connection(installation, service) or Connection(installation=installation, service=service)
    grant.token, grant.account, grant.api_base, grant.status = token, account, api_base, "active"
    db.session.add(grant)
    db.session.commit()
    return grant


def mark_revoked(grant):
    """The service refused the grant for good (revoked, or its refresh token expired)."""
    grant.status = "revoked"
    db.session.commit()


def _token_saver(grant_id):
    def save(token):
        grant = db.session.get(Connection, grant_id)
        grant.token = dict(token)
        db.session.commit()
    return save


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
    client = zendesk.ZendeskClient(session, zendesk_base_url(installation), token=grant.token,
                                   on_token=_token_saver(grant.id), client_id=config["ZENDESK_CLIENT_ID"],
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
    client = crm.CrmClient(session, grant.api_base or centre.api_domain, grant.token,
                           on_token=_token_saver(grant.id), accounts_server=centre.accounts_server,
                           client_id=config["CRM_CLIENT_ID"], client_secret=config["CRM_CLIENT_SECRET"], **options)
    return _closing(client, session)
