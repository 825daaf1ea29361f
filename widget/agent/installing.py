"""Our agent sidebar app in the Zendesk account: installed when Zendesk is authorized, removed on
uninstall (docs/architecture.md#uninstall, as the webhook is), through Zendesk's Apps API (docs/agent-app.md)."""
from flask import current_app
from flask_babel import gettext as _

from ..clients.http import ServiceError
from ..extensions import db

APP_NAME = "Zoho CRM"  # the sidebar's title in the agent's ticket page


def install_sidebar(installation, client):
    """Install the app (or keep the installation already there) and keep its public key. Returns a
    problem in plain words, or None. Without ZENDESK_APP_ID configured there is no app to install."""
    app_id = current_app.config.get("ZENDESK_APP_ID")
    if not app_id:
        return None
    try:
        mine = [found for found in client.app_installations() if str(found.get("app_id")) == str(app_id)]
        installed = mine[0] if mine else client.install_app(int(app_id), APP_NAME)
        installation.zendesk_app_installation_id = str(installed["id"])
        db.session.commit()  # the id first: uninstall can remove it even if the next call fails
        installation.zendesk_app_public_key = client.app_public_key(app_id)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _("Zendesk is authorized, but the Zoho CRM sidebar app could not be installed in Zendesk (%(reason)s). "
                 "Re-authorize to try again.", reason=str(error))
    return None


def remove_sidebar(installation, client):
    """Remove the app installation (already gone: fine)."""
    client.remove_app_installation(installation.zendesk_app_installation_id)
    installation.zendesk_app_installation_id = installation.zendesk_app_public_key = None
    db.session.commit()
