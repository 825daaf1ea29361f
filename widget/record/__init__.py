from .views import bp  # noqa: F401
from . import new_ticket  # noqa: F401,E402  (its routes join the blueprint)
