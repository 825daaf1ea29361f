"""Benchmarks (`flask --app wsgi bench ...`). Loaded only by their commands; the product never imports them."""
