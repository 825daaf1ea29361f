"""Command-line entry points: `flask --app wsgi demo | sandbox ... | support ...`."""
import json
import os
import re
import threading

import click
from flask import current_app
from flask.cli import AppGroup

# NB: the sandboxes, demo and benchmarks are imported inside their commands: create_app registers these
# commands in every process, and production must never load the sandboxes.
sandbox_cli = AppGroup("sandbox", help="Run one outside-service sandbox alone.")
SEED_DATASETS = ("standard", "company")  # the sandboxes' DATASETS
DEMO_DATASET, DEMO_TICKETS = "company", 300


def _write_json(path, data):
    """Write atomically, so a script polling for the file never reads half of it."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.replace(partial, path)


def _serve(sandbox, name, host, port, credentials_out, public_host, quiet):
    """Serve a sandbox in the background; print (unless quiet) and write its credentials."""
    from .sandbox.serving import BackgroundServer

    server = BackgroundServer(sandbox.app, host=host, port=port).start()
    credentials = sandbox.credentials(f"http://{public_host or host}:{server.port}")
    if not quiet:
        click.echo(f"{name} sandbox at " + credentials["base_url"])
        click.echo(json.dumps(credentials, indent=2))
    if credentials_out:
        _write_json(credentials_out, credentials)
    return sandbox, server


def _start_zendesk_sandbox(host, port, seed_tickets, credentials_out, public_host=None, plan="professional",
                           accounts=("acme",), quiet=False, dataset="standard"):
    from .sandbox.zendesk import create_sandbox

    sandbox = create_sandbox(accounts=accounts, plan=plan, seed_tickets=seed_tickets, dataset=dataset)
    return _serve(sandbox, "Zendesk", host, port, credentials_out, public_host, quiet)


def _plan(ctx, param, value):
    from .sandbox.zendesk.state import PLANS

    if value not in PLANS:
        raise click.BadParameter("choose one of " + ", ".join(PLANS))
    return value


def _account_names(ctx, param, value):
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    bad = [name for name in names if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)]
    if not names or bad or len(set(names)) != len(names):
        raise click.BadParameter("give distinct subdomains (letters, digits, hyphens), comma-separated")
    return tuple(names)


@sandbox_cli.command("zendesk")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--seed-tickets", default=200, show_default=True, type=click.IntRange(min=0),
              help="Tickets to seed in each account.")
@click.option("--credentials-out", type=click.Path(dir_okay=False), help="Write credentials as JSON here.")
@click.option("--plan", default="professional", show_default=True, callback=_plan,
              help="Every account's Zendesk plan: trial, team, professional, enterprise, expired or free "
                   "(change it later with POST /_sandbox/accounts/<sub>/plan).")
@click.option("--accounts", default="acme", show_default=True, callback=_account_names,
              help="Comma-separated subdomains; the first is the default account.")
@click.option("--seed", "dataset", default="standard", show_default=True, type=click.Choice(SEED_DATASETS),
              help="standard: random customers; company: the demo's company, whose people are the CRM sandbox's.")
def sandbox_zendesk(host, port, seed_tickets, credentials_out, plan, accounts, dataset):
    """A local Zendesk Support API (OAuth, tickets, users, orgs, webhooks, exports) and agent UI."""
    _start_zendesk_sandbox(host, port, seed_tickets, credentials_out, plan=plan, accounts=accounts, dataset=dataset)
    threading.Event().wait()


def _start_crm_sandbox(host, port, seed_records, credentials_out, public_host=None, extension_url=None,
                       marketplace_secret=None, quiet=False, dataset="standard"):
    from .sandbox.crm import DEFAULT_EXTENSION_URL, create_sandbox

    # The web UI's marketplace calls the extension's lifecycle URLs, signed with the extension's own secret.
    sandbox = create_sandbox(seed_records=seed_records, extension_url=extension_url or DEFAULT_EXTENSION_URL,
                             marketplace_secret=marketplace_secret or current_app.config["MARKETPLACE_SECRET"],
                             dataset=dataset)
    return _serve(sandbox, "Zoho CRM", host, port, credentials_out, public_host, quiet)


@sandbox_cli.command("crm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5002, show_default=True, type=int)
@click.option("--seed-records", default=200, show_default=True, type=int,
              help="Records to seed per data centre (standard seed).")
@click.option("--credentials-out", type=click.Path(dir_okay=False), help="Write credentials as JSON here.")
@click.option("--extension-url", default="http://127.0.0.1:5000", show_default=True,
              help="Where the extension runs (the web UI's marketplace and widget iframes point there).")
@click.option("--marketplace-secret", default=None, help="Signs lifecycle calls [default: the app's MARKETPLACE_SECRET].")
@click.option("--seed", "dataset", default="standard", show_default=True, type=click.Choice(SEED_DATASETS),
              help="standard: random records; company: the demo's company (in Japanese in JP).")
def sandbox_crm(host, port, seed_records, credentials_out, extension_url, marketplace_secret, dataset):
    """A local Zoho CRM: accounts servers of every data centre, the /crm/v8 API and the CRM web UI."""
    _start_crm_sandbox(host, port, seed_records, credentials_out, extension_url=extension_url,
                       marketplace_secret=marketplace_secret, dataset=dataset)
    threading.Event().wait()


@click.command("demo")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--zendesk-port", default=5001, show_default=True, type=int)
@click.option("--crm-port", default=5002, show_default=True, type=int)
def demo(port, zendesk_port, crm_port):
    """Start everything a newcomer needs: the extension and both sandboxes, seeded, in one process.

    The CRM web UI is served as `localhost` and the extension as `127.0.0.1`: two different sites, so
    the browser applies its third-party-cookie rules to our iframes as it would in production."""
    from flask_migrate import upgrade

    from .connections import allow_http_to_loopback_sandboxes
    from .sandbox.serving import BackgroundServer
    from .sync.scheduler import Scheduler

    app = current_app._get_current_object()
    if app.config["WIDGET_ENV"] != "development":  # its sandboxes sign with public development secrets
        raise click.ClickException("The demo runs only with WIDGET_ENV=development (its default).")
    upgrade()  # the extension's database under instance/, created or brought up to date
    extension_url = f"http://127.0.0.1:{port}"
    crm_url = f"http://localhost:{crm_port}"
    # Both sandboxes seeded with the same company (widget/sandbox/company.py): CRM people have tickets.
    zendesk, zendesk_server = _start_zendesk_sandbox("127.0.0.1", zendesk_port, DEMO_TICKETS, None, quiet=True,
                                                     dataset=DEMO_DATASET)
    crm, _ = _start_crm_sandbox("127.0.0.1", crm_port, 0, None, public_host="localhost",
                                extension_url=extension_url, quiet=True, dataset=DEMO_DATASET)
    zendesk_credentials = zendesk.credentials(zendesk_server.url)
    crm_credentials = crm.credentials(crm_url)
    # Zendesk is authorized only by the CRM admin who starts it, matched by email: each data centre's CRM
    # admin is a Zendesk admin too, with the same email and password.
    for centre in crm_credentials["data_centres"].values():
        admin = centre["users"][0]
        zendesk.add_admin(admin["name"], admin["email"], admin["password"])
    # Our agent sidebar app, published in the Zendesk sandbox's marketplace: authorizing Zendesk installs it.
    # The agent UI is opened as `localhost`, another site than the extension's, as Zendesk is in production.
    sidebar_app = zendesk.publish_app("Zoho CRM", f"{extension_url}/zendesk/sidebar")
    agent_ui = f"http://localhost:{zendesk_server.port}/agent"
    app.config.update(
        CRM_SANDBOX_URL=crm_url,
        CRM_CLIENT_ID=crm_credentials["client_id"],
        CRM_CLIENT_SECRET=crm_credentials["client_secret"],
        SANDBOX_ORIGIN=f"{crm_url} http://localhost:{zendesk_server.port}",
        ZENDESK_APP_ID=str(sidebar_app.id),
        ZENDESK_BASE_URL=zendesk_server.url,
        ZENDESK_CLIENT_ID=zendesk_credentials["oauth_client_id"],
        ZENDESK_CLIENT_SECRET=zendesk_credentials["oauth_client_secret"],
    )
    app.config["EXTENSION_URL"] = app.config["EXTENSION_URL"] or extension_url
    allow_http_to_loopback_sandboxes(app.config)
    BackgroundServer(app, host="127.0.0.1", port=port).start()
    Scheduler(app).start()  # auto sync, channel renewal
    crm_admin = crm_credentials["data_centres"]["jp"]["users"][0]
    zendesk_admin = zendesk_credentials["accounts"][0]
    click.echo(f"""
Zendesk for Zoho CRM demo is running.

  Open the CRM:  {crm_url}/
    sign in as {crm_admin['email']} / {crm_admin['password']} (every seeded user is listed on the sign-in page)
  Zendesk sign-in (when you authorize): the same, {crm_admin['email']} / {crm_admin['password']}
    subdomain: {zendesk_admin['subdomain']}; agent UI (a ticket shows the Zoho CRM sidebar): {agent_ui}
  Extension: {extension_url} (data in {app.instance_path})

Press Ctrl+C to stop.""")
    threading.Event().wait()


support_cli = AppGroup("support", help="Support actions an operator or a scheduler runs.")


@support_cli.command("retry-uninstalls")
def retry_uninstalls():
    """Retry the clean-up steps of every unfinished uninstall (docs/architecture.md#uninstall); rows go once all are
    done."""
    from .lifecycle.uninstall import describe_pending, retry_uninstalls as retry

    results = retry()
    for org_id, result in results.items():
        if result.done:
            click.echo(f"{org_id}: uninstalled")
        else:
            click.echo(f"{org_id}: still uninstalling")
            for entry in result.pending:
                click.echo(f"  - {describe_pending(entry)['message']}")
        for note in result.manual:
            click.echo(f"  ! {note}")
    if not results:
        click.echo("No unfinished uninstalls.")


@support_cli.command("reset-bulk")
@click.argument("org_id")
def reset_bulk(org_id):
    """Allow another bulk sync for the CRM org ORG_ID (a bulk sync runs once, F14)."""
    from .sync.runs import RunRefused, reset_bulk as reset

    try:
        installation = reset(org_id)
    except RunRefused as refused:
        raise click.ClickException(refused.message) from None
    click.echo(f"{installation.org_id}: a bulk sync may run again.")


sync_cli = AppGroup("sync", help="Run sync jobs in this process (operators, crash-safety tests).")


@sync_cli.command("first")
@click.argument("org_id")
def sync_first(org_id):
    """Run (or resume) the first sync of CRM org ORG_ID here, in the foreground."""
    from .extensions import db
    from .models import Installation, SyncRun
    from .sync.runs import RunRefused, first_sync_job, start_first_sync

    installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
    if installation is None:
        raise click.ClickException(f"No installation for CRM org {org_id}.")
    latest = db.session.scalar(db.select(SyncRun).filter_by(installation_id=installation.id, kind="first")
                               .order_by(SyncRun.id.desc()).limit(1))
    if latest is not None and latest.status == "done":
        # A process killed after finishing its run, started again by a supervisor, must not loop.
        click.echo(json.dumps({"run": latest.id, "status": "done", "counts": latest.counts,
                               "message": "The first sync is already done; nothing to resume."}))
        return
    run = latest if latest is not None and latest.status in ("queued", "running") else None
    try:
        run = run or start_first_sync(installation)
    except RunRefused as refused:
        raise click.ClickException(refused.message) from None
    first_sync_job(installation.id, run.id)
    db.session.refresh(run)
    message = run.message
    if run.status == "running":  # claimed by a live worker elsewhere: it carries on, this process may exit
        message = f"The first sync is running in another process ({run.holder})."
    click.echo(json.dumps({"run": run.id, "status": run.status, "counts": run.counts, "message": message}))
    if run.status in ("failed", "paused"):
        raise click.ClickException(run.message or run.status)  # a failed run fails the command, in plain words


bench_cli = AppGroup("bench", help="Benchmarks, sandbox to sandbox in this process.")


@bench_cli.command("sync")
@click.option("--tickets", required=True, type=click.IntRange(min=1), help="Tickets to seed in Zendesk.")
@click.option("--comments-per-ticket", default=2, show_default=True, type=click.IntRange(min=1),
              help="Comments of each ticket (the first is its description).")
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(min=0),
              help="Latency added to every API call of both sandboxes.")
def bench_sync(tickets, comments_per_ticket, latency_ms):
    """Time a first sync of seeded tickets into the CRM; print one JSON line."""
    import tempfile

    from . import create_app
    from .extensions import db
    from .bench import first_sync as bench

    with tempfile.TemporaryDirectory() as folder:  # a database of its own, never the demo's
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db"})
        with app.app_context():
            db.create_all()
            result = bench.run(tickets, comments_per_ticket, latency_ms)
            db.engine.dispose()
    click.echo(json.dumps(result))


@bench_cli.command("widget")
@click.option("--tickets", default=500, show_default=True, type=click.IntRange(min=1),
              help="Tickets of the one Contact whose widget is driven.")
@click.option("--other-tickets", default=20_000, show_default=True, type=click.IntRange(min=0),
              help="Tickets of other records around them in the local copy.")
@click.option("--comments-per-ticket", default=4, show_default=True, type=click.IntRange(min=0))
@click.option("--clients", default=16, show_default=True, type=click.IntRange(min=1),
              help="Concurrent clients, each sending its requests back to back.")
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="How long each endpoint is driven (after a warm-up).")
@click.option("--workers", default=os.cpu_count() or 2, show_default="the CPUs", type=click.IntRange(min=1),
              help="gunicorn workers (README: Configuration).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1), help="Threads per worker.")
@click.option("--database-url", default=None,
              help="An empty database for the bench's tables [default: a temporary SQLite file].")
def bench_widget(tickets, other_tickets, comments_per_ticket, clients, seconds, workers, threads, database_url):
    """Time the record widget served by gunicorn against a bare Flask endpoint; print one JSON line."""
    import tempfile

    from .bench import record_widget

    with tempfile.TemporaryDirectory() as folder:
        try:
            result = record_widget.run(folder, tickets, other_tickets, comments_per_ticket, clients, seconds,
                                       workers, threads, database_url)
        except record_widget.BenchRefused as refused:
            raise click.ClickException(str(refused)) from None
    click.echo(json.dumps(result))


@bench_cli.command("webhooks")
@click.option("--events", required=True, type=click.IntRange(min=1), help="Distinct Zendesk events to deliver.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help="Senders at once.")
@click.option("--database-url", default=None,
              help="PostgreSQL to use (a fresh schema, dropped afterwards) [default: a temporary SQLite file].")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="gunicorn workers.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1), help="Threads per worker.")
def bench_webhooks(events, concurrency, database_url, workers, threads):
    """Post signed Zendesk webhook deliveries to the extension under gunicorn; print one JSON line."""
    from .bench import webhooks as bench
    from .bench.serving import BenchRefused

    try:
        result = bench.run(events, concurrency, database_url, workers, threads)
    except BenchRefused as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(json.dumps(result))


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst):
    """A sync worker for SYNC_QUEUE=rq: runs jobs from Redis in this app's context (any number, any host)."""
    from rq import SimpleWorker

    from .sync.rq_backend import sync_queue

    queue = sync_queue(current_app)
    # NB: SimpleWorker runs each job in this process, inside the app context the CLI pushed; RQ's forking
    # worker would run it in a child whose database connections are the parent's.
    SimpleWorker([queue], connection=queue.connection).work(burst=burst, with_scheduler=True)


@click.command("scheduler")
def scheduler():
    """Auto sync and housekeeping on a timer, in the foreground (with SYNC_QUEUE=rq, next to the workers)."""
    from .sync.scheduler import Scheduler

    Scheduler(current_app._get_current_object()).start().thread.join()


def register_cli(app):
    app.cli.add_command(scheduler)
    app.cli.add_command(worker)
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(support_cli)
    app.cli.add_command(sync_cli)
    app.cli.add_command(bench_cli)
    app.cli.add_command(demo)
