"""The servers a bench starts: each a command in a process group of its own on a free loopback port,
what it prints written to a log file of the bench's (a server logs a line per request, which would
flood the terminal), and the log's end shown when it fails to start."""
import http.client
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BenchRefused(Exception):
    """The bench can't run as asked; `str()` says why."""


class Server:
    """`python -m <command(port)>`, stopped with its process group."""

    def __init__(self, command, env, log):
        from ..sandbox.serving import free_port  # the sandboxes load with the bench, never at import

        self.port, self.log = free_port(), log
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log, "wb") as output:  # the child has its own handle
            self.process = subprocess.Popen([sys.executable, "-m", *command(self.port)], cwd=ROOT, env=env,
                                            stdout=output, stderr=output, start_new_session=True)

    def wait_until(self, ready, what):
        deadline = time.monotonic() + 60
        while not ready():
            if self.process.poll() is not None:
                raise BenchRefused(f"{what} exited with {self.process.returncode}:\n{self.last_lines()}")
            if time.monotonic() > deadline:
                self.close()
                raise BenchRefused(f"{what} did not start within a minute:\n{self.last_lines()}")
            time.sleep(0.1)
        return self

    def last_lines(self, count=20):
        with open(self.log, encoding="utf-8", errors="replace") as log:
            return "".join(log.readlines()[-count:])

    def answers(self, path):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", path)
            return connection.getresponse().status == 200
        except OSError:
            return False

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the master and its workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


class Gunicorn(Server):
    """`gunicorn <app>` with the given workers and threads, ready once `ready_path` answers 200."""

    def __init__(self, app_path, env, workers, threads, ready_path, log):
        super().__init__(lambda port: ["gunicorn", "--workers", str(workers), "--threads", str(threads),
                                       "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app_path], env, log)
        self.ready_path = ready_path

    def __enter__(self):
        return self.wait_until(lambda: self.answers(self.ready_path), "gunicorn")
