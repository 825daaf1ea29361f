"""Run a WSGI app on a loopback port in a background thread (tests, demo)."""
import socket
import threading

from werkzeug.serving import make_server


def free_port(host="127.0.0.1"):
    """A TCP port that is free right now on `host`."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class BackgroundServer:
    """A threaded werkzeug server; `url` is its base URL. Use `close()` (or a with-block) to stop it."""

    def __init__(self, app, host="127.0.0.1", port=0):
        self.server = make_server(host, port or free_port(host), app, threaded=True)
        self.host, self.port = host, self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=f"server-{self.port}")

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
