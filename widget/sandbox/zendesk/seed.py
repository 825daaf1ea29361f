"""Deterministic seed data: agents, organizations, end-users, and tickets with comments.

The same `seed` gives the same data. Everything is stamped in the past (spread over ~90 days, and
older than two minutes) so incremental exports can return it at once.
"""
import random
import secrets

from .state import iso

COMPANIES = [
    "Sakura Trading", "Fuji Logistics", "Kumo Software", "Hikari Foods", "Minato Bank", "Aoba Design",
    "Tsubasa Motors", "Yamato Retail", "Kaze Energy", "Nami Pharma", "Acme Corporation", "Globex",
    "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises", "Hooli", "Vandelay Imports",
]
FAMILY = ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
          "Kato", "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Taylor"]
GIVEN = ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Mei", "Riku", "Sakura", "Emma", "Liam",
         "Olivia", "Noah", "Ava", "James", "Mia", "Lucas"]
SUBJECTS = [
    "Cannot sign in to the portal", "Invoice amount looks wrong", "Request for a product demo",
    "Shipment delayed", "API returns 500 errors", "How do I export my data?", "Password reset email not received",
    "Upgrade our plan", "Feature request: dark mode", "Order arrived damaged", "ログインできません",
    "請求書の金額について", "納品の遅延について", "データのエクスポート方法", "契約更新のご相談",
]
REPLIES = [
    "Thanks for reaching out, we're looking into it.", "Could you send us a screenshot?",
    "This has been fixed on our side; please try again.", "I've forwarded this to our billing team.",
    "お問い合わせありがとうございます。確認いたします。", "Internal note: customer is on the enterprise plan.",
]
DAY = 86400


def seed_account(account, tickets=0, seed=1, agents=5, organizations=None, end_users=None, replies=None):
    """Fill `account` with deterministic data. Returns the seeded admin. `replies`: comments after the
    first on every ticket (benchmarks); None: 0 to 2 at random."""
    rng = random.Random(seed)
    now = int(account.now())
    start = now - 90 * DAY
    organizations = organizations if organizations is not None else max(6, min(tickets // 100, 2000))
    end_users = end_users if end_users is not None else max(20, min(tickets // 3, 30000))

    seed_fields(account, start)
    admin = account.create_user({"name": "Aiko Admin", "email": f"admin@{account.subdomain}.example",
                                 "role": "admin", "verified": True}, ts=start, notify=False)
    account.passwords[admin["id"]] = f"{account.subdomain}-admin-pass"
    account.api_tokens[secrets.token_hex(20)] = True
    staff = [admin]
    for n in range(agents):
        agent = account.create_user({"name": f"{rng.choice(GIVEN)} {FAMILY[n % len(FAMILY)]} (agent)",
                                     "email": f"agent{n + 1}@{account.subdomain}.example", "role": "agent",
                                     "verified": True}, ts=start, notify=False)
        account.passwords[agent["id"]] = f"{account.subdomain}-agent-pass"
        staff.append(agent)

    orgs = []
    for n in range(organizations):
        base = COMPANIES[n % len(COMPANIES)]
        name = base if n < len(COMPANIES) else f"{base} {n // len(COMPANIES) + 1}"
        orgs.append(account.create_organization(
            {"name": name, "domain_names": [f"org{n + 1}.example.com"], "tags": ["seed"]},
            ts=start + n, notify=False))

    people = []
    for n in range(end_users):
        org = orgs[n % len(orgs)] if n % 7 else None  # some people belong to no organization
        domain = org["domain_names"][0] if org else "mail.example.net"
        people.append(account.create_user(
            {"name": f"{GIVEN[n % len(GIVEN)]} {FAMILY[(n // len(GIVEN)) % len(FAMILY)]}",
             "email": f"customer{n + 1}@{domain}", "organization_id": org["id"] if org else None,
             "verified": True}, ts=start + n % DAY, notify=False))

    # Spread tickets in time order over the window, ending two minutes ago.
    span = max(now - 120 - (start + DAY), 1)
    for n in range(tickets):
        ts = start + DAY + span * n // max(tickets, 1)
        requester = people[rng.randrange(len(people))]
        status = rng.choices(["new", "open", "pending", "hold", "solved", "closed"], [2, 5, 2, 1, 4, 3])[0]
        fields = {
            "subject": rng.choice(SUBJECTS), "requester_id": requester["id"], "status": status,
            "priority": rng.choice(["urgent", "high", "normal", "normal", "low", None]),
            "type": rng.choice(["problem", "incident", "question", "task", None]),
            "assignee_id": rng.choice(staff)["id"] if status != "new" else None,
            "tags": rng.sample(["billing", "login", "shipping", "vip", "api", "jp"], rng.randint(0, 2)),
        }
        body = f"{fields['subject']}. Ticket body #{n + 1} from {requester['name']}."
        ticket, _ = account.create_ticket(fields, {"body": body, "public": True}, requester["id"],
                                          ts=ts, notify=False)
        for reply in range(rng.randint(0, 2) if replies is None else replies):
            _seed_reply(account, ticket, rng, staff, ts + reply + 1)
    return admin


def _options(*pairs):
    return [{"name": name, "value": value} for name, value in pairs]


# System ticket fields as GET /api/v2/ticket_fields lists them (type, title, system options).
SYSTEM_TICKET_FIELDS = [
    ("subject", "Subject", None), ("description", "Description", None),
    ("status", "Status", _options(("Open", "open"), ("Pending", "pending"), ("Solved", "solved"))),
    ("tickettype", "Type", _options(("Question", "question"), ("Incident", "incident"), ("Problem", "problem"),
                                    ("Task", "task"))),
    ("priority", "Priority", _options(("Low", "low"), ("Normal", "normal"), ("High", "high"), ("Urgent", "urgent"))),
    ("group", "Group", None), ("assignee", "Assignee", None),
]


def seed_fields(account, ts):
    """Ticket, user and organization fields: Zendesk's system ticket fields plus a few custom ones."""
    stamp = iso(ts)

    def field(kind_fields, kind, title, position, **extra):
        record = {"id": account.big_id(), "type": kind, "title": title, "raw_title": title,
                  "description": extra.pop("description", ""), "position": position, "active": True,
                  "required": False, "regexp_for_validation": None, "created_at": stamp, "updated_at": stamp,
                  **extra}
        kind_fields.append(record)
        return record

    for position, (kind, title, options) in enumerate(SYSTEM_TICKET_FIELDS, start=1):
        extra = {"system_field_options": options} if options else {}
        field(account.ticket_fields, kind, title, position, removable=False, tag=None,
              title_in_portal=title, visible_in_portal=kind in ("subject", "description"),
              editable_in_portal=kind in ("subject", "description"), required_in_portal=kind == "subject",
              custom_field_options=None, _system=True, **extra)
    products = [("Widget Pro", "product_widget_pro"), ("Widget Lite", "product_widget_lite"),
                ("Support plan", "product_support_plan")]
    field(account.ticket_fields, "tagger", "Product", 100, removable=True, tag=None, title_in_portal="Product",
          visible_in_portal=True, editable_in_portal=True, required_in_portal=False,
          custom_field_options=[{"id": account.big_id(), "name": name, "raw_name": name, "value": value,
                                 "default": False} for name, value in products])
    field(account.ticket_fields, "text", "Order number", 101, removable=True, tag=None,
          title_in_portal="Order number", visible_in_portal=True, editable_in_portal=True,
          required_in_portal=False, custom_field_options=None)
    field(account.ticket_fields, "checkbox", "Escalated", 102, removable=True, tag="escalated",
          title_in_portal="Escalated", visible_in_portal=False, editable_in_portal=False,
          required_in_portal=False, custom_field_options=None)
    field(account.user_fields, "text", "CRM contact id", 1, key="crm_contact_id", system=False)
    field(account.user_fields, "dropdown", "Plan", 2, key="plan", system=False,
          custom_field_options=[{"id": account.big_id(), "name": n, "raw_name": n, "value": n.lower()}
                                for n in ("Free", "Team", "Enterprise")])
    field(account.organization_fields, "text", "CRM account id", 1, key="crm_account_id", system=False)
    field(account.organization_fields, "dropdown", "Tier", 2, key="tier", system=False,
          custom_field_options=[{"id": account.big_id(), "name": n, "raw_name": n, "value": n.lower()}
                                for n in ("Bronze", "Silver", "Gold")])


def _seed_reply(account, ticket, rng, staff, ts):
    """An agent reply (or internal note), recorded with its audit like any other comment."""
    text = rng.choice(REPLIES)
    author = rng.choice(staff)["id"]
    comment = account._add_comment(ticket, {"body": text, "public": not text.startswith("Internal")}, author, ts)
    account._touch_ticket(ticket, ticket["generated_timestamp"], ts, author, "Update", [], comment)
