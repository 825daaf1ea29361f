"""Flask extensions, created unbound and initialised in the app factory."""
from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

db = SQLAlchemy()
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
htmx = Htmx()
