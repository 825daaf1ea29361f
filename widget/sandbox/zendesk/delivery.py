"""(placeholder, being written)"""


class WebhookDelivery:
    def __init__(self, state):
        self.state = state

    def __call__(self, account, event_type, kind, obj, previous, current):
        pass
