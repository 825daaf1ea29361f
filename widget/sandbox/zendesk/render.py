"""Turn stored sandbox objects into the JSON real Zendesk answers with.

Stored objects are API-shaped dicts without `url` and with internal keys starting with `_`; every
`url` is built from the base URL the client reached us at (docs/outside-apis.md#zendesk-ids-and-urls).
"""
from .http import api_url


def public(obj):
    """A copy without the internal `_` keys."""
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def with_url(obj, path):
    """`url` first, as in real responses, then the object's fields."""
    return {"url": api_url(f"{path}.json"), **public(obj)}


def ticket(account, stored):
    out = with_url(stored, f"tickets/{stored['id']}")
    # NB: responses list every custom ticket field, nulls included, and repeat the list as `fields`
    # (docs/outside-apis.md#zendesk-objects, docs/outside-apis.md#zendesk-writes-and-search).
    values = {field["id"]: field.get("value") for field in stored["custom_fields"]}
    custom = [{"id": field["id"], "value": values.get(field["id"])}
              for field in account.ticket_fields if not field.get("_system")]
    custom += [{"id": fid, "value": value} for fid, value in values.items()
               if not any(c["id"] == fid for c in custom)]
    out["custom_fields"] = custom
    out["fields"] = [dict(field) for field in custom]
    return out


def user(stored):
    return with_url(stored, f"users/{stored['id']}")


def organization(stored):
    return with_url(stored, f"organizations/{stored['id']}")


def comment(stored):
    return public(stored)


def audit(account, stored_event, ticket_obj):
    """A `ticket_events` record as the `audit` of a create/update response
    (docs/outside-apis.md#zendesk-job-statuses)."""
    return {
        "id": stored_event["id"], "ticket_id": stored_event["ticket_id"],
        "created_at": stored_event["created_at"], "author_id": stored_event["updater_id"],
        "metadata": {"system": dict(stored_event.get("system") or {}), "custom": {}},
        "via": ticket_obj["via"],
        "events": [{"id": child.get("id") or account.big_id(), **child} for child in stored_event["child_events"]],
    }


def ticket_field(field):
    return with_url(field, f"ticket_fields/{field['id']}")


def user_field(field):
    return with_url(field, f"user_fields/{field['id']}")


def organization_field(field):
    return with_url(field, f"organization_fields/{field['id']}")


def job_status(job):
    return {"id": job["id"], "url": api_url(f"job_statuses/{job['id']}.json"), **public(
        {key: value for key, value in job.items() if key != "id"})}
