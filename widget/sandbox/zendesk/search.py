"""The subset of Zendesk's search syntax the sandbox understands (docs/outside-apis.md#zendesk-writes-and-search).

`type:ticket|user|organization`, `keyword:value` (quoted values allowed), `keyword<value` /
`keyword>value` for status and dates, a leading `-` to negate, and plain words matched in the
object's text. Unknown keywords are treated as plain text, as Zendesk does.
"""
import re

from . import memberships
from .state import TICKET_STATUSES

KINDS = ("ticket", "user", "organization")
_TOKEN = re.compile(r'-?[\w.]+[:<>]"[^"]*"|-?"[^"]*"|\S+')
_TERM = re.compile(r'^(-?)([\w.]+)([:<>])(.*)$')


class Term:
    def __init__(self, key, op, value, negated):
        self.key, self.op, self.value, self.negated = key, op, value.strip('"').lower(), negated


def parse(query):
    """(kinds, terms): the `type:` filter (all kinds when absent) and the other terms."""
    kinds, terms = set(), []
    for token in _TOKEN.findall(query or ""):
        match = _TERM.match(token)
        if match and match.group(2).lower() == "type" and match.group(3) == ":":
            kinds.add(match.group(4).strip('"').lower())
            continue
        if match:
            terms.append(Term(match.group(2).lower(), match.group(3), match.group(4), bool(match.group(1))))
        else:
            negated = token.startswith("-") and len(token) > 1
            terms.append(Term("", ":", token[1:] if negated else token, negated))
    return (kinds & set(KINDS)) if kinds else set(KINDS), terms


def search(account, query, only=None):
    """Matching objects as (kind, object) pairs: tickets, then users, then organizations, each by id.
    `only` restricts the kinds whatever the query says (`/users/search`)."""
    if not (query or "").strip():
        return []
    kinds, terms = parse(query)
    if only:
        kinds &= {only}
    found = []
    sources = {"ticket": account.tickets, "user": account.users, "organization": account.organizations}
    for kind in KINDS:
        if kind in kinds:
            found += [(kind, obj) for obj in list(sources[kind].values())
                      if all(_matches(account, kind, obj, term) != term.negated for term in terms)]
    return found


def _matches(account, kind, obj, term):
    if term.key in ("created", "updated"):
        return _compare(obj[f"{term.key}_at"][: len(term.value)].lower(), term.op, term.value)
    if kind == "ticket" and term.key == "status" and term.value in TICKET_STATUSES:
        return _compare(TICKET_STATUSES.index(obj["status"]), term.op, TICKET_STATUSES.index(term.value))
    field = _FIELDS[kind].get(term.key)
    if field is not None and term.op == ":":
        return field(account, obj, term.value)
    text = f"{term.key}{term.op}{term.value}" if term.key else term.value
    return any(text in (obj.get(name) or "").lower() for name in _TEXT[kind])


def _compare(left, op, right):
    return left == right if op == ":" else (left < right if op == "<" else left > right)


def _user_ids(account, value):
    """Users named by an email or an id (the forms `requester:` and `assignee:` accept)."""
    if value.isdigit():
        return {int(value)}
    user = account.find_user(email=value)
    return {user["id"]} if user else set()


def _organization_ids(account, value):
    if value.isdigit():
        return {int(value)}
    return {account.orgs_by_name[value]} if value in account.orgs_by_name else set()


def _equals(name):
    return lambda account, obj, value: str(obj.get(name) or "").lower() == value


def _has_tag(account, obj, value):
    return value in [tag.lower() for tag in obj.get("tags") or []]


_FIELDS = {
    "ticket": {
        "requester": lambda account, t, v: t["requester_id"] in _user_ids(account, v),
        "assignee": lambda account, t, v: (t["assignee_id"] is None) if v == "none"
        else t["assignee_id"] in _user_ids(account, v),
        "organization": lambda account, t, v: t["organization_id"] in _organization_ids(account, v),
        "priority": _equals("priority"), "ticket_type": _equals("type"), "external_id": _equals("external_id"),
        "tags": _has_tag, "tag": _has_tag,
        "subject": lambda account, t, v: v in t["subject"].lower(),
        "description": lambda account, t, v: v in t["description"].lower(),
    },
    "user": {
        "email": _equals("email"), "role": _equals("role"), "external_id": _equals("external_id"),
        "phone": _equals("phone"), "name": lambda account, u, v: v in u["name"].lower(),
        # NB: a user is found in each organization of their memberships, not only the default one.
        "organization": lambda account, u, v: bool(memberships.organization_ids(account, u["id"])
                                                   & _organization_ids(account, v)),
        "tags": _has_tag, "tag": _has_tag,
    },
    "organization": {
        "name": lambda account, o, v: v in o["name"].lower(), "external_id": _equals("external_id"),
        "tags": _has_tag, "tag": _has_tag,
    },
}
_TEXT = {"ticket": ("subject", "description"), "user": ("name", "email"), "organization": ("name", "details")}
