"""(placeholder, being written)"""
from flask import Blueprint

bp = Blueprint("agent", __name__)
