from . import field_mapping, summary, sync_views, wizard  # noqa: F401  (their routes join the settings blueprint)
from .views import bp  # noqa: F401
