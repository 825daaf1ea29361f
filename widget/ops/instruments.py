"""What each process counts as it works (prometheus-client): calls to the outside services by service,
endpoint family and status, their retries, 429s and the calls given up on, and the time each route takes.

Labels stay few: a service (`zendesk`, `crm`), an endpoint family (`tickets`, `users`, `search`, `oauth`,
...: widget/clients/http.py `endpoint_family`), an HTTP status, a Flask endpoint name; never an id, an
org or a person. Under gunicorn and RQ every process writes its counts to files of its own in
PROMETHEUS_MULTIPROC_DIR, which /metrics adds up (metrics.py; README "Operations").
"""
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

disable_created_metrics()  # `_created` series: one more per label set, which no dashboard of ours reads

PREFIX = "zendesk_crm_"
# This process's instruments (in multiprocess mode their values live in PROMETHEUS_MULTIPROC_DIR instead).
REGISTRY = CollectorRegistry()

OUTSIDE_CALLS = Counter(
    PREFIX + "outside_api_calls", "Calls to Zendesk and Zoho CRM, each attempt once, by service, endpoint "
    "family and HTTP status (network: no answer).", ["service", "endpoint", "status"], registry=REGISTRY)
OUTSIDE_CALL_SECONDS = Histogram(
    PREFIX + "outside_api_call_duration_seconds", "Time an outside call took to answer (or to fail), by "
    "service and endpoint family.", ["service", "endpoint"], registry=REGISTRY)
OUTSIDE_RETRIES = Counter(
    PREFIX + "outside_api_retries", "Outside calls tried again, by service, endpoint family and reason "
    "(rate_limited, conflict, server_error, network).", ["service", "endpoint", "reason"], registry=REGISTRY)
OUTSIDE_RATE_LIMITED = Counter(
    PREFIX + "outside_api_rate_limited", "Outside answers saying too many requests (HTTP 429, or the "
    "accounts server's throttling answer), by service and endpoint family.", ["service", "endpoint"],
    registry=REGISTRY)
OUTSIDE_GIVEN_UP = Counter(
    PREFIX + "outside_api_given_up", "Outside calls that failed for a transient reason and were not tried "
    "again (attempts used up, or a write that may have been done), by service, endpoint family and "
    "reason.", ["service", "endpoint", "reason"], registry=REGISTRY)
REQUEST_SECONDS = Histogram(
    PREFIX + "request_duration_seconds", "Time to answer a request, by route (the Flask endpoint; unmatched: "
    "no route).", ["route"], registry=REGISTRY)
