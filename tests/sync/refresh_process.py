"""A process holding a Zendesk client on an installation's grant, for the two-process refresh test:
`python -m tests.sync.refresh_process CONFIG_JSON INSTALLATION_ID GO_FILE` builds the client, prints
`ready`, waits for GO_FILE to exist, makes one API call and prints the access token it ended with."""
import json
import sys
import time
from pathlib import Path

from widget import create_app
from widget.connections import zendesk_client
from widget.extensions import db
from widget.models import Installation


def main(config, installation_id, go_file):
    app = create_app(json.loads(config))
    with app.app_context():
        client = zendesk_client(db.session.get(Installation, int(installation_id)))
        print("ready", flush=True)
        while not Path(go_file).exists():
            time.sleep(0.01)
        plan = client.account_plan()
        print(json.dumps({"plan": plan, "access_token": client.tokens.current()["access_token"]}), flush=True)
        db.engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:])
