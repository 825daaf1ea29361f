"""The extension's public URLs, as the outside services call them back (OAuth redirects, webhooks,
CRM notifications)."""
from flask import current_app, has_request_context, request


def external_root():
    """Our public root URL: EXTENSION_URL. In production always (config.py refuses to start without it):
    a request's Host header is the sender's to choose, and `Host: attacker.example` must not turn into an
    OAuth redirect_uri or a webhook endpoint. In development only, with no EXTENSION_URL, this request's
    own root ("" outside a request)."""
    configured = current_app.config.get("EXTENSION_URL", "")
    if configured:
        return configured.rstrip("/")
    if current_app.config.get("WIDGET_ENV") != "development":
        raise RuntimeError("EXTENSION_URL is not configured: production never builds URLs from a request's host")
    return request.host_url.rstrip("/") if has_request_context() else ""
