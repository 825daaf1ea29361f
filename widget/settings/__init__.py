from . import sync_views  # noqa: F401  (its routes join the settings blueprint)
from .views import bp  # noqa: F401
