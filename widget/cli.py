"""Command-line entry points: `flask --app wsgi demo | sandbox ...`."""
import json
import threading

import click
from flask import current_app
from flask.cli import AppGroup

sandbox_cli = AppGroup("sandbox", help="Run one outside-service sandbox alone.")


def _start_zendesk_sandbox(host, port, seed_tickets, credentials_out, public_host=None):
    from .sandbox.serving import BackgroundServer
    from .sandbox.zendesk import create_sandbox

    sandbox = create_sandbox(seed_tickets=seed_tickets)
    server = BackgroundServer(sandbox.app, host=host, port=port).start()
    credentials = sandbox.credentials(f"http://{public_host or host}:{server.port}")
    click.echo("Zendesk sandbox at " + credentials["base_url"])
    click.echo(json.dumps(credentials, indent=2))
    if credentials_out:
        with open(credentials_out, "w", encoding="utf-8") as out:
            json.dump(credentials, out, indent=2)
    return sandbox, server


@sandbox_cli.command("zendesk")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--seed-tickets", default=200, show_default=True, type=int, help="Tickets to seed.")
@click.option("--credentials-out", type=click.Path(dir_okay=False), help="Write credentials as JSON here.")
def sandbox_zendesk(host, port, seed_tickets, credentials_out):
    """A local Zendesk Support API (OAuth, tickets, users, orgs, webhooks, exports)."""
    _start_zendesk_sandbox(host, port, seed_tickets, credentials_out)
    threading.Event().wait()


def _start_crm_sandbox(host, port, seed_records, credentials_out, public_host=None):
    from .sandbox.crm import create_sandbox
    from .sandbox.serving import BackgroundServer

    sandbox = create_sandbox(seed_records=seed_records)
    server = BackgroundServer(sandbox.app, host=host, port=port).start()
    credentials = sandbox.credentials(f"http://{public_host or host}:{server.port}")
    click.echo("Zoho CRM sandbox at " + credentials["base_url"])
    click.echo(json.dumps(credentials, indent=2))
    if credentials_out:
        with open(credentials_out, "w", encoding="utf-8") as out:
            json.dump(credentials, out, indent=2)
    return sandbox, server


@sandbox_cli.command("crm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5002, show_default=True, type=int)
@click.option("--seed-records", default=200, show_default=True, type=int, help="Records to seed per data centre.")
@click.option("--credentials-out", type=click.Path(dir_okay=False), help="Write credentials as JSON here.")
def sandbox_crm(host, port, seed_records, credentials_out):
    """A local Zoho CRM: accounts servers of every data centre and the /crm/v8 API."""
    _start_crm_sandbox(host, port, seed_records, credentials_out)
    threading.Event().wait()


@click.command("demo")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--zendesk-port", default=5001, show_default=True, type=int)
@click.option("--crm-port", default=5002, show_default=True, type=int)
def demo(port, zendesk_port, crm_port):
    """Start everything a newcomer needs: the extension and the sandboxes, seeded."""
    from .sandbox.serving import BackgroundServer

    _start_zendesk_sandbox("127.0.0.1", zendesk_port, 300, None)
    BackgroundServer(current_app._get_current_object(), host="127.0.0.1", port=port).start()
    click.echo(f"Extension at http://127.0.0.1:{port}/healthz")
    click.echo(f"Open the Zendesk sandbox's agent UI: http://127.0.0.1:{zendesk_port}/agent")
    threading.Event().wait()


def register_cli(app):
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(demo)
