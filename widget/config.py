"""Configuration, read from environment variables only.

Development defaults exist so `flask --app wsgi demo` works on a fresh machine; in production mode
(`WIDGET_ENV=production`) every secret must come from the environment or the app refuses to start.
"""
import os

DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"
DEV_MARKETPLACE_SECRET = "dev-only-marketplace-secret"
# A valid Fernet key (32 url-safe base64 bytes), for development and tests only.
DEV_TOKEN_ENCRYPTION_KEY = "ZGV2LW9ubHktZmVybmV0LWtleS0wMDAwMDAwMDAwMDA="

SECRETS = ("SECRET_KEY", "MARKETPLACE_SECRET", "TOKEN_ENCRYPTION_KEY")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete for the chosen mode."""


def _default_database_url(instance_path):
    return "sqlite:///" + os.path.join(instance_path, "widget.db")


def from_environment(instance_path, environ=None):
    """Build the config mapping from `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    production = env.get("WIDGET_ENV", "development") == "production"
    if production:
        missing = [name for name in SECRETS if not env.get(name)]
        if missing:
            raise ConfigError(
                "WIDGET_ENV=production needs these environment variables: " + ", ".join(missing)
            )
    return {
        "WIDGET_ENV": "production" if production else "development",
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "MARKETPLACE_SECRET": env.get("MARKETPLACE_SECRET", DEV_MARKETPLACE_SECRET),
        "TOKEN_ENCRYPTION_KEY": env.get("TOKEN_ENCRYPTION_KEY", DEV_TOKEN_ENCRYPTION_KEY),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or _default_database_url(instance_path),
        # The extension's public base URL (webhook and OAuth callback URLs); empty: the request's own root.
        "EXTENSION_URL": env.get("EXTENSION_URL", "").rstrip("/"),
        # Zendesk base URL, `{subdomain}` filled per account. The sandbox uses e.g. http://127.0.0.1:5001.
        "ZENDESK_BASE_URL": env.get("ZENDESK_BASE_URL", "https://{subdomain}.zendesk.com"),
        "ZENDESK_CLIENT_ID": env.get("ZENDESK_CLIENT_ID", ""),
        "ZENDESK_CLIENT_SECRET": env.get("ZENDESK_CLIENT_SECRET", ""),
        "CRM_CLIENT_ID": env.get("CRM_CLIENT_ID", ""),
        "CRM_CLIENT_SECRET": env.get("CRM_CLIENT_SECRET", ""),
        # Empty in production (the real Zoho data centres); the CRM sandbox's base URL otherwise.
        "CRM_SANDBOX_URL": env.get("CRM_SANDBOX_URL", ""),
        "SYNC_QUEUE": env.get("SYNC_QUEUE", "thread"),
        # Zendesk allows 10 incremental-export calls a minute (30 with High Volume); raise it only for
        # sandboxes whose rate limits are off (crash tests, benchmarks).
        "ZENDESK_INCREMENTAL_CALLS_PER_MINUTE": int(env.get("ZENDESK_INCREMENTAL_CALLS_PER_MINUTE", "10")),
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SYNC_RQ_QUEUE": env.get("SYNC_RQ_QUEUE", "zendesk-crm-sync"),
        "AUTO_SYNC_INTERVAL": int(env.get("AUTO_SYNC_INTERVAL", "300")),
        # Start the auto-sync scheduler in the served app (`gunicorn wsgi:app`): by default with
        # SYNC_QUEUE=thread; with SYNC_QUEUE=rq run `flask --app wsgi scheduler` instead (or set it to 1).
        # Several schedulers are safe (leases).
        "SCHEDULER_ENABLED": env.get("SCHEDULER_ENABLED", "1" if env.get("SYNC_QUEUE", "thread") == "thread" else "")
        in ("1", "true", "yes"),
        "SANDBOX_ORIGIN": env.get("SANDBOX_ORIGIN", ""),
        # Bearer token the Prometheus scraper sends to /metrics; empty: /metrics is open (keep it internal).
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        # Seconds after which a request's widget context comes back signed again (security.renew_context).
        "CONTEXT_RENEW_AFTER": int(env.get("CONTEXT_RENEW_AFTER", "300")),
        # Where admins write when they need support (e.g. another bulk sync); shown in the sync wizard.
        "SUPPORT_CONTACT": env.get("SUPPORT_CONTACT", "support@example.com"),
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "ja"],
        "SESSION_COOKIE_SECURE": production,
    }
