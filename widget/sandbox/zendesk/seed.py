"""Deterministic seed data: agents, organizations, end-users, and tickets with comments.

The same `seed` gives the same data. Everything is stamped in the past (spread over ~90 days, and
older than two minutes) so incremental exports can return it at once.
"""
import random
import secrets

from .. import company as fixture
from . import conversations as talk
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


# The demo company's support team (widget/sandbox/company.py): the admin first.
COMPANY_STAFF = ["高橋 愛子", "山田 花子", "鈴木 健太", "伊藤 美咲", "渡辺 翔", "中村 さくら"]
# Who requests the tickets beyond each person's first: (kind, weight).
REQUESTER_WEIGHTS = (("contact", 62), ("lead", 10), ("deal", 9), ("colleague", 10), ("stranger", 9))
HOUR = 3600


def seed_company_account(account, tickets=300, seed=1):
    """Fill `account` with the demo company's support desk: its organizations and people as they were
    before the extension came (widget/sandbox/company.py), and `tickets` tickets with their
    conversations (conversations.py), in Japanese. Deterministic for a given `seed`. Returns the admin."""
    rng = random.Random(seed)
    data = fixture.company()
    now = int(account.now())
    start = now - 90 * DAY
    seed_fields(account, start - 400 * DAY)
    staff = []
    for n, name in enumerate(COMPANY_STAFF):
        role, local = ("admin", "admin") if n == 0 else ("agent", f"agent{n}")
        user = account.create_user({"name": name, "email": f"{local}@{account.subdomain}.example", "role": role,
                                    "verified": True}, ts=start - 400 * DAY, notify=False)
        account.passwords[user["id"]] = f"{account.subdomain}-{role}-pass"
        staff.append(user)
    account.api_tokens[secrets.token_hex(20)] = True

    organizations = {}  # CRM account id (or a Zendesk-only organization's name) -> organization
    for n, crm_account in enumerate(data.accounts):
        if crm_account.zendesk == fixture.ABSENT:
            continue
        external_id = {fixture.IMPORTED: fixture.external_id("Accounts", crm_account.crm_id),
                       fixture.OTHER_SYSTEM: crm_account.other_external_id}.get(crm_account.zendesk)
        organizations[crm_account.crm_id] = account.create_organization(
            {"name": crm_account.name["ja"], "domain_names": [crm_account.domain], "external_id": external_id,
             "tags": ["customer"]}, ts=start - (300 - n) * DAY, notify=False)
    for n, other in enumerate(data.other_organizations):
        organizations[other["name"]] = account.create_organization(
            {"name": other["name"], "domain_names": [other["domain"]]}, ts=start - (200 - n) * DAY, notify=False)

    def add_person(person, n):
        if person.account is not None:
            organization = organizations.get(person.account.crm_id)
        else:
            organization = organizations.get((person.company or {}).get("ja"))
        return account.create_user({"name": person.name("ja"), "email": person.email, "phone": person.phone,
                                    "organization_id": organization["id"] if organization else None,
                                    "verified": True}, ts=start - (180 - n % 180) * DAY, notify=False)

    people = {kind: [(person, add_person(person, n)) for n, person in enumerate(group) if person.in_zendesk]
              for kind, group in (("contact", data.contacts), ("lead", data.leads),
                                  ("colleague", data.colleagues), ("stranger", data.strangers))}
    users_by_email = {person.email: user for group in people.values() for person, user in group}
    people["deal"] = [(deal, users_by_email[deal.contact.email]) for deal in data.deals if deal.has_tickets]

    # Everyone who wrote to support has a ticket; the rest go to whoever writes most.
    first = [(kind, who) for kind in ("contact", "lead", "deal") for who in people[kind]]
    rng.shuffle(first)
    chosen = first[:tickets]
    kinds, weights = zip(*REQUESTER_WEIGHTS)
    while len(chosen) < tickets:
        kind = rng.choices(kinds, weights)[0]
        chosen.append((kind, rng.choice(people[kind])))
    rng.shuffle(chosen)

    last = now - 120 - 600  # stamped in the past: the exports return everything at once
    for n, (kind, (who, requester)) in enumerate(chosen):
        created = start + DAY + (last - start - DAY) * n // max(tickets, 1)
        _seed_company_ticket(account, rng, kind, who, requester, staff, created, now)
    return staff[0]


def _status_for_age(rng, days):
    """Old tickets are mostly closed, recent ones mostly still being worked on."""
    if days > 30:
        weights = {"closed": 70, "solved": 20, "open": 4, "pending": 3, "hold": 3}
    elif days > 7:
        weights = {"closed": 15, "solved": 40, "open": 15, "pending": 15, "hold": 10, "new": 5}
    else:
        weights = {"new": 25, "open": 30, "pending": 20, "hold": 10, "solved": 15}
    return rng.choices(list(weights), list(weights.values()))[0]


def _seed_company_ticket(account, rng, kind, who, requester, staff, created, now):
    deal = who if kind == "deal" else None
    person = deal.contact if deal else who
    script = rng.choice({"contact": talk.SUPPORT, "colleague": talk.SUPPORT, "lead": talk.PRESALES,
                         "deal": talk.DEAL, "stranger": talk.PERSONAL}[kind])
    status = _status_for_age(rng, (now - created) / DAY)
    steps = script.steps[:rng.choice(talk.STEPS_BY_STATUS[status])]
    agents = staff[1:]
    assignee = rng.choice(agents)
    colleague = rng.choice([a for a in agents if a is not assignee])
    company_name = (person.account.name["ja"] if person.account else (person.company or {}).get("ja")) or ""
    values = {"customer": person.family["ja"], "company": company_name, "agent": assignee["name"].split()[0],
              "colleague": colleague["name"].split()[0], "deal": deal.name["ja"] if deal else "",
              "invoice": f"INV-{created // DAY % 100000:05d}", "order": f"ZJ-{rng.randint(100000, 999999)}",
              "tracking": f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"}
    incident = script.type == "incident"
    fields = {
        "subject": script.subject, "requester_id": requester["id"], "status": status, "type": script.type,
        "priority": rng.choices(["low", "normal", "high", "urgent"], [1, 4, 4, 2] if incident else [3, 6, 2, 1])[0],
        "assignee_id": assignee["id"] if status != "new" else None,
        "tags": list(script.tags) + (["vip"] if person.account and person.account.employees >= 2000 else []),
        "external_id": fixture.external_id("Deals", deal.crm_id) if deal else None,  # created from its page
    }
    via = "api" if deal else rng.choice(["email", "web"])
    ticket, _ = account.create_ticket(fields, {"body": steps[0][1].format(**values), "public": True},
                                      requester["id"], ts=created, via=via, notify=False)
    # Replies follow at a support desk's pace, squeezed into the time left for the newest tickets.
    offsets, at = [], 0
    for who_writes, _ in steps[1:]:
        at += {talk.AGENT: rng.randint(1, 30) * HOUR, talk.NOTE: rng.randint(10, 90) * 60,
               talk.CUSTOMER: rng.randint(2, 24) * HOUR}[who_writes]
        offsets.append(at)
    room = now - 120 - created - len(offsets)
    scale = min(1.0, room / offsets[-1]) if offsets else 1.0
    previous = created
    for offset, (who_writes, text) in zip(offsets, steps[1:]):
        ts = max(previous + 1, created + int(offset * scale))
        author = {talk.CUSTOMER: requester, talk.AGENT: assignee,
                  talk.NOTE: rng.choice([assignee, colleague])}[who_writes]
        comment = account._add_comment(ticket, {"body": text.format(**values), "public": who_writes != talk.NOTE},
                                       author["id"], ts)
        account._touch_ticket(ticket, ticket["generated_timestamp"], ts, author["id"], "Update", [], comment)
        previous = ts
