"""Configuration, read from environment variables only.

Production is the mode unless `WIDGET_ENV=development` is said: a deployment that forgets the variable,
or spells it `Production`, refuses to start rather than run with the development secrets printed here.
In production every secret comes from the environment, none of them a development default or short,
and the public URL (EXTENSION_URL) is configured: callback and webhook URLs never come from a request's
Host header (widget/urls.py). The demo and the test suite say development for themselves (wsgi.py,
tests/conftest.py).
"""
import os
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

MODES = ("production", "development")
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"
DEV_MARKETPLACE_SECRET = "dev-only-marketplace-secret"
# A valid Fernet key (32 url-safe base64 bytes), for development and tests only.
DEV_TOKEN_ENCRYPTION_KEY = "ZGV2LW9ubHktZmVybmV0LWtleS0wMDAwMDAwMDAwMDA="
DEV_DEFAULTS = (DEV_SECRET_KEY, DEV_MARKETPLACE_SECRET, DEV_TOKEN_ENCRYPTION_KEY)

# Shared secrets production must be given: signing keys, and the Prometheus scraper's token (/metrics
# is never open in production).
SECRETS = ("SECRET_KEY", "MARKETPLACE_SECRET", "METRICS_TOKEN")
MIN_SECRET_LENGTH = 32
HOW_TO_MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
HOW_TO_MAKE_A_KEY = "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete for the chosen mode."""


def _mode(env):
    mode = env.get("WIDGET_ENV", "production")
    if mode not in MODES:
        # NB: never guess: "Production" or "prod" could as well be a typo of either.
        raise ConfigError(f"WIDGET_ENV={mode!r} is not a mode: set WIDGET_ENV=production (the default) or "
                          "WIDGET_ENV=development (the demo and tests, with public development secrets).")
    return mode


def production_problems(env):
    """What keeps `env` from running in production, in plain words; each names its variable, never its value."""
    problems = []
    for name in SECRETS:
        value = env.get(name, "")
        if not value:
            problems.append(f"{name} is not set (make one with {HOW_TO_MAKE_A_SECRET})")
        elif value in DEV_DEFAULTS:
            problems.append(f"{name} is a public development default; set a secret of your own")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{name} is too short: use at least {MIN_SECRET_LENGTH} characters")
    key = env.get("TOKEN_ENCRYPTION_KEY", "")
    if not key:
        problems.append(f"TOKEN_ENCRYPTION_KEY is not set (make one with {HOW_TO_MAKE_A_KEY})")
    elif key in DEV_DEFAULTS:
        problems.append("TOKEN_ENCRYPTION_KEY is the public development default; set a key of your own")
    elif not _is_fernet_key(key):
        problems.append(f"TOKEN_ENCRYPTION_KEY is not a Fernet key (make one with {HOW_TO_MAKE_A_KEY})")
    url = urlsplit(env.get("EXTENSION_URL", ""))
    if url.scheme != "https" or not url.hostname:
        problems.append("EXTENSION_URL must be the extension's public https:// URL (OAuth callbacks and webhooks "
                        "are built from it, never from a request's Host header)")
    return problems


def _is_fernet_key(key):
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


def _default_database_url(instance_path):
    return "sqlite:///" + os.path.join(instance_path, "widget.db")


def from_environment(instance_path, environ=None):
    """Build the config mapping from `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    production = _mode(env) == "production"
    if production and (problems := production_problems(env)):
        raise ConfigError("Refusing to start in production (WIDGET_ENV is production unless set to development):\n"
                          + "\n".join(f"  - {problem}" for problem in problems)
                          + "\nFor the demo and tests, set WIDGET_ENV=development instead.")
    return {
        "WIDGET_ENV": "production" if production else "development",
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "MARKETPLACE_SECRET": env.get("MARKETPLACE_SECRET", DEV_MARKETPLACE_SECRET),
        "TOKEN_ENCRYPTION_KEY": env.get("TOKEN_ENCRYPTION_KEY", DEV_TOKEN_ENCRYPTION_KEY),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or _default_database_url(instance_path),
        # The extension's public base URL (webhook and OAuth callback URLs); required in production. Empty
        # (development only): the request's own root (widget/urls.py).
        "EXTENSION_URL": env.get("EXTENSION_URL", "").rstrip("/"),
        # Zendesk base URL, `{subdomain}` filled per account. The sandbox uses e.g. http://127.0.0.1:5001.
        "ZENDESK_BASE_URL": env.get("ZENDESK_BASE_URL", "https://{subdomain}.zendesk.com"),
        "ZENDESK_CLIENT_ID": env.get("ZENDESK_CLIENT_ID", ""),
        "ZENDESK_CLIENT_SECRET": env.get("ZENDESK_CLIENT_SECRET", ""),
        # The id of our Zendesk marketplace app (the agent sidebar, docs/agent-app.md): authorizing Zendesk
        # installs it into the account. Empty: no sidebar app is installed.
        "ZENDESK_APP_ID": env.get("ZENDESK_APP_ID", ""),
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
        # Bearer token the Prometheus scraper sends to /metrics; required in production. Empty (development
        # only): /metrics is open.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        # Seconds after which a request's widget context comes back signed again (security.renew_context).
        "CONTEXT_RENEW_AFTER": int(env.get("CONTEXT_RENEW_AFTER", "300")),
        # Where admins write when they need support (e.g. another bulk sync); shown in the sync wizard.
        "SUPPORT_CONTACT": env.get("SUPPORT_CONTACT", "support@example.com"),
        # `json`: log lines as JSON objects (widget/ops/logs.py); anything else: plain text.
        "LOG_FORMAT": env.get("LOG_FORMAT", "text").strip().lower(),
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "ja"],
        "SESSION_COOKIE_SECURE": production,
    }
