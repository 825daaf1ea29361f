"""The sandboxes' clock: wall-clock time plus an offset tests can advance (token and code expiry,
Zendesk's one-minute export rule, notification channel expiry)."""
import time


class Clock:
    def __init__(self):
        self.offset = 0.0

    def now(self):
        return time.time() + self.offset

    def advance(self, seconds):
        self.offset += seconds
