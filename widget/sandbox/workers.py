"""Background work of the sandboxes (webhook deliveries, bulk jobs, CRM notifications): up to N daemon
threads on one queue, started when work arrives and gone after a few idle seconds.

Threads that lived forever would keep every sandbox a test process ever made (and its tickets) in
memory, and the garbage collector's full passes over all of it stall every thread of the process.
"""
import logging
import queue
import threading

logger = logging.getLogger(__name__)


class IdleWorkers:
    """`put(job)` queues `handle(job)`; one worker keeps the queue's order, several run in parallel."""

    def __init__(self, handle, name, workers=1, idle_seconds=2.0):
        self.handle, self.name, self.workers, self.idle_seconds = handle, name, workers, idle_seconds
        self.jobs = queue.Queue()
        self._lock = threading.Lock()
        self._live = 0
        self._unfinished = 0  # jobs queued or being handled

    def put(self, job):
        # Under the lock a worker about to leave sees this job and stays (see _work).
        with self._lock:
            self._unfinished += 1
            self.jobs.put(job)
            while self._live < self.workers:
                self._live += 1
                threading.Thread(target=self._work, daemon=True, name=f"{self.name}-{self._live}").start()

    def _work(self):
        while True:
            try:
                job = self.jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self.jobs.empty():
                        self._live -= 1
                        return
                continue
            try:
                self.handle(job)
            except Exception:  # a worker must survive anything one job throws
                logger.exception("%s: a background job failed", self.name)
            finally:
                with self._lock:
                    self._unfinished -= 1

    def busy(self):
        """True while a job is queued or being handled: what was sent has not all been sent yet."""
        with self._lock:
            return self._unfinished > 0
