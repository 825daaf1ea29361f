"""Deterministic seed data: a believable org per data centre (users with profiles and roles, Accounts,
Contacts, Leads and Deals). The same `seed` gives the same data; 100,000 records take a few seconds
because seeding writes through `Org._create` directly (values are valid by construction, no events).
"""
import random

from . import schema

COMPANIES = {
    "us": "Zylker Corp", "eu": "Zylker Europe GmbH", "in": "Zylker India Pvt Ltd", "au": "Zylker Australia",
    "jp": "Zylker Japan K.K.", "cn": "Zylker China", "ca": "Zylker Canada", "sa": "Zylker Arabia",
}
ACCOUNT_NAMES = ["Sakura Trading", "Fuji Logistics", "Kumo Software", "Hikari Foods", "Minato Bank", "Aoba Design",
                 "Tsubasa Motors", "Yamato Retail", "Kaze Energy", "Nami Pharma", "Acme Corporation", "Globex",
                 "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises", "Hooli", "Vandelay Imports"]
FAMILY = ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
          "Kato", "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Taylor"]
GIVEN = ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Mei", "Riku", "Sakura", "Emma", "Liam",
         "Olivia", "Noah", "Ava", "James", "Mia", "Lucas"]
CITIES = ["Tokyo", "Osaka", "San Francisco", "London", "Chennai", "Sydney", "Toronto", "Riyadh", "Berlin"]
DAY = 86400

# (first, last, email local part, profile, role, password suffix)
STAFF = [
    ("Patricia", "Boyle", "admin", "Administrator", "CEO", "admin"),
    ("Kenji", "Mori", "manager", "Standard", "Manager", "rep"),
    ("Sara", "Lee", "rep", "Sales Rep", "Sales Representative", "rep"),
    ("Omar", "Viewer", "viewer", "Read Only", "Sales Representative", "viewer"),
]


def staff_email(dc, local):
    return f"{local}@{dc}.zylker.example"


def staff_password(dc, suffix):
    return f"{dc}-{suffix}-pass"


def seed_staff_and_modules(org, ts):
    """The org's profiles, roles, users (STAFF) and standard modules; returns the users, admin first."""
    profiles = {
        "Administrator": org.add_profile("Administrator", admin=True),
        "Standard": org.add_profile("Standard"),
        "Sales Rep": org.add_profile("Sales Rep"),
        "Read Only": org.add_profile("Read Only", read_only=True),
    }
    roles = {name: org.add_role(name) for name in ("CEO", "Manager", "Sales Representative")}
    users = [org.add_user(first, last, staff_email(org.dc, local), profiles[profile], roles[role],
                          staff_password(org.dc, suffix), ts=ts)
             for first, last, local, profile, role, suffix in STAFF]
    for api_name, singular, plural, sequence, specs in schema.STANDARD_MODULES:
        module = org.add_module(api_name, singular, plural, specs, notify=False)
        module.meta["sequence_number"] = sequence
    org.modules = dict(sorted(org.modules.items(), key=lambda item: item[1].meta["sequence_number"]))
    return users


def seed_org(org, records=0, seed=1):
    """Fill `org` with its standard modules, users and about `records` records. Returns the admin."""
    rng = random.Random(seed)
    now = org.now()
    start = now - 180 * DAY
    users = seed_staff_and_modules(org, start)
    owners = users[:3]

    accounts_n = max(3, records * 15 // 100)
    contacts_n = records * 30 // 100
    deals_n = records * 15 // 100
    leads_n = max(0, records - accounts_n - contacts_n - deals_n)
    total = max(accounts_n + contacts_n + deals_n + leads_n, 1)
    counter = iter(range(total + 1))

    def stamp():
        return start + (next(counter) * (now - 300 - start)) / total

    def create(module_name, values):
        owner = rng.choice(owners)
        values["Owner"] = org.user_ref(owner)
        return org._create(org.modules[module_name], values, owner, stamp())

    accounts = []
    for n in range(accounts_n):
        base = ACCOUNT_NAMES[n % len(ACCOUNT_NAMES)]
        name = base if n < len(ACCOUNT_NAMES) else f"{base} {n // len(ACCOUNT_NAMES) + 1}"
        accounts.append(create("Accounts", {
            "Account_Name": name, "Account_Number": f"A-{n + 1:06d}", "Phone": f"+81-3-{1000 + n % 9000}-{n % 10000:04d}",
            "Website": f"https://org{n + 1}.example.com", "Industry": rng.choice(schema.INDUSTRIES),
            "Account_Type": rng.choice(["Customer", "Prospect", "Partner"]), "Employees": rng.randint(5, 5000),
            "Billing_City": rng.choice(CITIES), "Billing_Country": "Japan"}))
    contacts = []
    for n in range(contacts_n):
        account = accounts[n % len(accounts)]
        first, last = GIVEN[n % len(GIVEN)], FAMILY[(n // len(GIVEN)) % len(FAMILY)]
        contacts.append(create("Contacts", {
            "First_Name": first, "Last_Name": last, "Email": f"contact{n + 1}@org{n % len(accounts) + 1}.example.com",
            "Phone": f"+81-90-{n % 10000:04d}-{(n * 7) % 10000:04d}", "Title": rng.choice(["CEO", "CTO", "Buyer", "Manager"]),
            "Account_Name": {"name": account["Account_Name"], "id": account["id"]},
            "Lead_Source": rng.choice(schema.LEAD_SOURCES), "Mailing_City": rng.choice(CITIES)}))
    for n in range(leads_n):
        first, last = GIVEN[(n * 5) % len(GIVEN)], FAMILY[(n * 3) % len(FAMILY)]
        create("Leads", {
            "First_Name": first, "Last_Name": last, "Email": f"lead{n + 1}@prospect{n % 97 + 1}.example.net",
            "Phone": f"+1-555-{n % 10000:04d}", "Company": f"{rng.choice(ACCOUNT_NAMES)} Prospect {n % 50 + 1}",
            "Lead_Source": rng.choice(schema.LEAD_SOURCES), "Lead_Status": rng.choice(schema.LEAD_STATUSES),
            "Industry": rng.choice(schema.INDUSTRIES), "City": rng.choice(CITIES)})
    for n in range(deals_n):
        account = accounts[n % len(accounts)]
        contact = contacts[n % len(contacts)] if contacts else None
        create("Deals", {
            "Deal_Name": f"{account['Account_Name']} - Deal {n + 1}", "Amount": float(rng.randrange(1000, 200000, 500)),
            "Stage": rng.choice(schema.DEAL_STAGES), "Probability": rng.choice([10, 20, 40, 60, 75, 90, 100]),
            "Closing_Date": org.iso(now + rng.randint(-60, 120) * DAY)[:10],
            "Account_Name": {"name": account["Account_Name"], "id": account["id"]},
            "Contact_Name": {"name": contact["Full_Name"], "id": contact["id"]} if contact else None})
    return users[0]


COUNTRY = {"ja": "日本", "en": "Japan"}
LEAD_STATUSES = ["Not Contacted", "Attempted to Contact", "Contacted", "Pre-Qualified", "Contact in Future"]


def seed_company_org(org):
    """Fill `org` with its standard modules and users, and the demo's company (widget/sandbox/company.py)
    in the org's language, with the company's fixed record ids. Returns the admin."""
    from ..company import company, language_of

    lang, data = language_of(org.dc), company()
    now = org.now()
    users = seed_staff_and_modules(org, now - 800 * DAY)
    owners = users[:3]

    def create(module_name, n, values, record_id, ts):
        owner = owners[n % len(owners)]
        values["Owner"] = org.user_ref(owner)
        return org._create(org.modules[module_name], values, owner, ts, record_id=record_id)

    accounts = {}
    for n, account in enumerate(data.accounts):
        accounts[account.crm_id] = create("Accounts", n, {
            "Account_Name": account.name[lang], "Account_Number": f"C-{n + 1:05d}", "Website": account.website,
            "Phone": f"0{3 + n % 6}-{5550 + n:04d}-{1200 + n * 37:04d}", "Industry": account.industry,
            "Account_Type": "Customer", "Employees": account.employees, "Billing_City": account.city[lang],
            "Billing_Country": COUNTRY[lang]}, account.crm_id, now - (700 - n * 20) * DAY)
    contacts = {}
    for n, person in enumerate(data.contacts):
        account = accounts[person.account.crm_id]
        contacts[person.crm_id] = create("Contacts", n, {
            "First_Name": person.given[lang], "Last_Name": person.family[lang], "Email": person.email,
            "Phone": person.phone, "Title": person.title[lang],
            "Account_Name": {"name": account["Account_Name"], "id": account["id"]},
            "Lead_Source": schema.LEAD_SOURCES[n % len(schema.LEAD_SOURCES)],
            "Mailing_City": person.account.city[lang], "Mailing_Country": COUNTRY[lang]},
            person.crm_id, account["_created"] + (2 + n % 30) * DAY)
    for n, person in enumerate(data.leads):
        create("Leads", n, {
            "First_Name": person.given[lang], "Last_Name": person.family[lang], "Email": person.email,
            "Phone": person.phone, "Company": person.company[lang], "Designation": person.title[lang],
            "Lead_Source": schema.LEAD_SOURCES[(n * 3) % len(schema.LEAD_SOURCES)],
            "Lead_Status": LEAD_STATUSES[n % len(LEAD_STATUSES)], "Country": COUNTRY[lang]},
            person.crm_id, now - (100 - n * 2) * DAY)
    for n, deal in enumerate(data.deals):
        account, contact = accounts[deal.account.crm_id], contacts[deal.contact.crm_id]
        create("Deals", n, {
            "Deal_Name": deal.name[lang], "Amount": float(deal.amount), "Stage": deal.stage,
            "Probability": deal.probability, "Closing_Date": org.iso(now + deal.closing_in_days * DAY)[:10],
            "Account_Name": {"name": account["Account_Name"], "id": account["id"]},
            "Contact_Name": {"name": contact["Full_Name"], "id": contact["id"]},
            "Lead_Source": schema.LEAD_SOURCES[n % len(schema.LEAD_SOURCES)]},
            deal.crm_id, now - (90 - n * 3) * DAY)
    return users[0]
