"""The product never loads the sandboxes: they play the outside services in the demo, the bench and the
tests, and a production process must not carry (or be able to lean on) their code."""
import ast
import json
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "widget"
ALLOWED = ("sandbox",)  # the sandboxes import each other; the benches load them inside their functions

# Run in a fresh interpreter, so what other tests imported cannot hide (or fake) an import. It plays the
# CRM and the marketplace with its own few lines of hmac and PyJWT.
SERVE_IN_PRODUCTION = r'''
import hashlib, hmac, json, sys, time, uuid

import jwt

import wsgi
from widget.extensions import db

app = wsgi.app
assert app.config["WIDGET_ENV"] == "production"
with app.app_context():
    db.create_all()
client = app.test_client()
secret = app.config["MARKETPLACE_SECRET"]


def lifecycle(action, body):
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return client.post(f"/lifecycle/{action}", data=raw, headers={
        "Content-Type": "application/json", "X-Marketplace-Timestamp": timestamp,
        "X-Marketplace-Signature": "sha256=" + signature})


admin = {"id": "u-1", "name": "Ada", "email": "ada@example.com", "is_admin": True, "profile": "Administrator",
         "locale": "en_US", "time_zone": "UTC"}
statuses = {"healthz": client.get("/healthz").status_code,
            "metrics": client.get("/metrics", headers={
                "Authorization": "Bearer " + app.config["METRICS_TOKEN"]}).status_code}
installed = lifecycle("install", {"org_id": "org-walls", "org_name": "Walls", "data_center": "us",
                                  "installer": admin, "scope": {"type": "admins"}})
statuses["install"] = installed.status_code
now = int(time.time())
ctx = jwt.encode({"iss": "org-walls", "sub": admin["id"], "iat": now, "exp": now + 600, "user": admin,
                  "entity": "Contacts", "entity_id": "42"}, installed.get_json()["context_secret"], algorithm="HS256")
statuses["settings"] = client.get(f"/settings?ctx={ctx}").status_code
statuses["related_list"] = client.get(f"/record/Contacts/42/tickets?ctx={ctx}").status_code
statuses["webhook_unknown"] = client.post("/webhooks/zendesk/" + str(uuid.uuid4()), json={}).status_code
statuses["missing"] = client.get("/no-such-page").status_code
statuses["uninstall"] = lifecycle("uninstall", {"org_id": "org-walls", "uninstaller": admin}).status_code
print(json.dumps({"statuses": statuses,
                  "sandbox_modules": sorted(m for m in sys.modules if m.startswith("widget.sandbox")),
                  "bench_modules": sorted(m for m in sys.modules if m.startswith("widget.bench"))}))
'''


def test_serving_requests_in_production_loads_no_sandbox(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "WIDGET_ENV": "production",
           "SECRET_KEY": "k" * 40, "MARKETPLACE_SECRET": "m" * 40, "METRICS_TOKEN": "t" * 40,
           "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "EXTENSION_URL": "https://widget.example.com",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "WIDGET_INSTANCE_PATH": str(tmp_path),
           "SCHEDULER_ENABLED": ""}
    done = subprocess.run([sys.executable, "-c", SERVE_IN_PRODUCTION], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["statuses"] == {"healthz": 200, "metrics": 200, "install": 201, "settings": 200,
                                  "related_list": 200, "webhook_unknown": 404, "missing": 404,
                                  "uninstall": 200}, report
    assert report["sandbox_modules"] == [] and report["bench_modules"] == []


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path, node):
    """The modules (and names) an import statement of the module at `path` loads, resolved as the
    interpreter does: `from ..x import y` in widget/a/b.py is widget.x and widget.x.y."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
    target = ".".join(filter(None, (base, node.module)))
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def _module_level_imports(path):
    """(line, imported module) of the imports a module runs when it is loaded: its top level and the
    bodies of top-level if/try/with blocks, never a function's or a class's body."""
    pending = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((node.lineno, name) for name in _imported(path, node))
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            pending += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
            for handler in getattr(node, "handlers", []):
                pending += handler.body


def test_no_product_module_imports_the_sandboxes_at_module_level():
    product = [path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] not in ALLOWED]
    assert len(product) > 50 and PACKAGE / "cli.py" in product
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}" for path in product
             for line, name in _module_level_imports(path)
             if name == "widget.sandbox" or name.startswith("widget.sandbox.")]
    assert found == []


def test_the_sandboxes_use_nothing_of_the_product():
    """They play the outside services with their own code (signing included), at any depth of a module."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for path in (PACKAGE / "sandbox").rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, (ast.Import, ast.ImportFrom)) for name in _imported(path, node)
             if name.split(".")[0] == "widget" and not name.startswith("widget.sandbox")]
    assert found == []


def test_the_walker_sees_relative_and_absolute_imports():
    """The walk above would find nothing if it misread imports: it reads these as the interpreter does."""
    sample = PACKAGE / "record" / "listing.py"
    names = {name for _line, name in _module_level_imports(sample)}
    assert "widget.models" in names or any(name.startswith("widget.models.") for name in names)
    cli_names = {name for _line, name in _module_level_imports(PACKAGE / "cli.py")}
    assert "click" in cli_names and not any("sandbox" in name for name in cli_names)
    sandbox_names = {name for _line, name in _module_level_imports(PACKAGE / "sandbox" / "crm" / "ui" / "records.py")}
    assert "widget.sandbox.crm.signing.mint_context" in sandbox_names


def test_the_zendesk_sandbox_command_lists_the_sandbox_plans(app):
    from widget.sandbox.zendesk.state import PLANS

    shown = app.test_cli_runner().invoke(args=["sandbox", "zendesk", "--help"]).output
    assert all(plan in " ".join(shown.split()) for plan in PLANS)
