"""Users and organizations of the Zendesk sandbox over real HTTP, including upserts and OAuth scopes
(docs/outside-apis.md#zendesk-objects, docs/outside-apis.md#zendesk-writes-and-search,
docs/outside-apis.md#zendesk-oauth, docs/outside-apis.md#zendesk-errors)."""
import secrets

import requests

from widget.sandbox.zendesk.state import Grant

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}


def test_me_show_and_list_users_by_role(api, zendesk):
    me = api.get(api.base + "/users/me.json").json()["user"]
    assert me["email"] == "admin@acme.example" and me["role"] == "admin"
    assert me["url"] == f"{zendesk.url}/api/v2/users/{me['id']}.json"
    assert api.get(api.base + f"/users/{me['id']}.json").json()["user"] == me
    agents = api.get(api.base + "/users.json", params={"role": "agent"}).json()
    assert agents["count"] == 5 and {u["role"] for u in agents["users"]} == {"agent"}
    everyone = api.get(api.base + "/users.json", params={"role[]": ["agent", "admin"]}).json()
    assert everyone["count"] == 6
    assert api.get(api.base + "/users/1.json").json() == NOT_FOUND


def test_create_user_answers_201_and_rejects_a_duplicate_email(api, zendesk):
    response = api.post(api.base + "/users.json", json={"user": {"name": "Kenji", "email": "kenji@example.org"}})
    assert response.status_code == 201
    user = response.json()["user"]
    assert response.headers["Location"] == f"{zendesk.url}/api/v2/users/{user['id']}.json"
    assert user["role"] == "end-user" and user["ticket_restriction"] == "requested"
    duplicate = api.post(api.base + "/users.json", json={"user": {"name": "K2", "email": "Kenji@example.org"}})
    assert duplicate.status_code == 422
    assert duplicate.json() == {
        "error": "RecordInvalid", "description": "Record validation errors",
        "details": {"email": [{"description": "Email: kenji@example.org is already being used by another user",
                               "error": "DuplicateValue"}]}}
    bad_role = api.post(api.base + "/users.json", json={"user": {"name": "R", "email": "r@x.example", "role": "boss"}})
    assert bad_role.status_code == 422 and "role" in bad_role.json()["details"]


def test_users_create_or_update_matches_email_or_external_id_case_insensitively(api, zendesk):
    url = api.base + "/users/create_or_update.json"
    created = api.post(url, json={"user": {"name": "Nao", "email": "nao@example.org", "external_id": "CRM-1"}})
    assert created.status_code == 201
    user_id = created.json()["user"]["id"]
    assert created.headers["Location"] == f"{zendesk.url}/api/v2/users/{user_id}.json"

    by_email = api.post(url, json={"user": {"name": "Nao Tanaka", "email": "NAO@example.org"}})
    assert by_email.status_code == 200 and by_email.json()["user"]["id"] == user_id
    assert by_email.headers["Location"] == f"{zendesk.url}/api/v2/users/{user_id}.json"
    by_external_id = api.post(url, json={"user": {"name": "Nao T.", "external_id": "crm-1", "phone": "+81-3"}})
    assert by_external_id.status_code == 200
    user = by_external_id.json()["user"]
    assert user["id"] == user_id and user["name"] == "Nao T." and user["phone"] == "+81-3"
    # NB: the stored external_id takes the case of the matching request
    # (docs/outside-apis.md#zendesk-writes-and-search).
    assert user["external_id"] == "crm-1"


def test_users_search_by_email_query_and_external_id(api):
    api.post(api.base + "/users.json", json={"user": {"name": "Sora", "email": "sora@example.org", "external_id": "X9"}})
    by_email = api.get(api.base + "/users/search.json", params={"query": "email:sora@example.org"}).json()
    assert [u["name"] for u in by_email["users"]] == ["Sora"]
    assert by_email["count"] == 1 and by_email["next_page"] is None and by_email["previous_page"] is None
    by_external_id = api.get(api.base + "/users/search.json", params={"external_id": "x9"}).json()
    assert [u["email"] for u in by_external_id["users"]] == ["sora@example.org"]
    nobody = api.get(api.base + "/users/search.json", params={"query": "nobody@demo.com"}).json()
    assert nobody == {"users": [], "next_page": None, "previous_page": None, "count": 0}


def test_show_many_by_external_ids_case_insensitively(api):
    for n in (1, 2):
        api.post(api.base + "/users.json", json={"user": {"name": f"Ext {n}", "email": f"ext{n}@example.org",
                                                         "external_id": f"EXT-{n}"}})
        api.post(api.base + "/organizations.json", json={"organization": {"name": f"Ext Org {n}",
                                                                         "external_id": f"EXT-{n}"}})
    users = api.get(api.base + "/users/show_many.json", params={"external_ids": "ext-2,EXT-1,nobody"}).json()
    assert [u["name"] for u in users["users"]] == ["Ext 2", "Ext 1"] and users["count"] == 2
    orgs = api.get(api.base + "/organizations/show_many.json", params={"external_ids": "Ext-1,none"}).json()
    assert [o["name"] for o in orgs["organizations"]] == ["Ext Org 1"]
    too_many = api.get(api.base + "/users/show_many.json", params={"external_ids": ",".join(map(str, range(101)))})
    assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"


def test_organization_crud_and_create_or_update_never_matches_on_name(api, zendesk):
    response = api.post(api.base + "/organizations.json", json={"organization": {"name": "Kawa Ltd", "external_id": "A-1"}})
    assert response.status_code == 201
    org = response.json()["organization"]
    assert response.headers["Location"] == f"{zendesk.url}/api/v2/organizations/{org['id']}.json"
    assert api.get(api.base + f"/organizations/{org['id']}.json").json()["organization"]["name"] == "Kawa Ltd"

    url = api.base + "/organizations/create_or_update.json"
    by_external_id = api.post(url, json={"organization": {"external_id": "a-1", "notes": "key account"}})
    assert by_external_id.status_code == 200
    assert by_external_id.json()["organization"]["id"] == org["id"]
    assert by_external_id.json()["organization"]["notes"] == "key account"
    by_id = api.post(url, json={"organization": {"id": org["id"], "name": "Kawa Holdings"}})
    assert by_id.status_code == 200 and by_id.json()["organization"]["name"] == "Kawa Holdings"

    same_name = api.post(url, json={"organization": {"name": "Kawa Holdings"}})
    assert same_name.status_code == 422
    assert same_name.json()["error"] == "RecordInvalid"
    assert same_name.json()["details"]["name"][0]["error"] == "DuplicateValue"
    created = api.post(url, json={"organization": {"name": "Umi Inc", "external_id": "A-2"}})
    assert created.status_code == 201 and created.headers["Location"].endswith(".json")

    assert api.get(api.base + "/organizations/123.json").json() == NOT_FOUND
    listed = api.get(api.base + "/organizations.json", params={"per_page": 5}).json()
    assert len(listed["organizations"]) == 5 and listed["count"] == len(zendesk.account().organizations)
    many = api.get(api.base + "/organizations/show_many.json", params={"ids": f"{org['id']},1"}).json()
    assert [o["id"] for o in many["organizations"]] == [org["id"]]


def test_organizations_search_by_exact_name_or_external_id_case_insensitively(api):
    api.post(api.base + "/organizations.json", json={"organization": {"name": "Mori Trading", "external_id": "M-1"}})
    url = api.base + "/organizations/search.json"
    for params in ({"name": "Mori Trading"}, {"name": "mori trading"}, {"external_id": "m-1"}):
        found = api.get(url, params=params).json()
        assert [o["name"] for o in found["organizations"]] == ["Mori Trading"] and found["count"] == 1
    assert api.get(url, params={"name": "Mori"}).json()["organizations"] == []  # whole names only, no prefix
    assert api.get(url, params={"name": "Mori Trading", "external_id": "M-1"}).status_code == 400


def _bearer(zendesk, scope):
    """An OAuth access token with `scope` for the seeded admin, as the OAuth pages would issue it."""
    account = zendesk.account()
    admin = account.find_user(email="admin@acme.example")
    now = zendesk.state.clock.now()
    token = secrets.token_hex(16)
    account.grants[token] = Grant(token, secrets.token_hex(16), "zendesk_for_zoho_crm", admin["id"], scope,
                                  now + 1800, now + 86400, now)
    return {"Authorization": f"Bearer {token}"}


def test_scopes_gate_reads_and_writes(zendesk):
    base = f"{zendesk.url}/api/v2"
    forbidden = {"error": "Forbidden",
                 "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."}
    tickets_read = _bearer(zendesk, "tickets:read")
    assert requests.get(f"{base}/tickets/1.json", headers=tickets_read).status_code == 200
    assert requests.get(f"{base}/users/me.json", headers=tickets_read).json() == forbidden
    write = requests.post(f"{base}/tickets.json", json={"ticket": {"comment": {"body": "b"}}}, headers=tickets_read)
    assert write.status_code == 403 and write.json() == forbidden

    read_only = _bearer(zendesk, "read")
    assert requests.get(f"{base}/organizations.json", headers=read_only).status_code == 200
    assert requests.post(f"{base}/organizations.json", json={"organization": {"name": "n"}},
                         headers=read_only).status_code == 403
    users_write = _bearer(zendesk, "users:write")
    assert requests.post(f"{base}/users.json", json={"user": {"name": "S", "email": "s@x.example"}},
                         headers=users_write).status_code == 201
    search = requests.get(f"{base}/search.json", params={"query": "type:ticket printer"}, headers=tickets_read)
    assert search.status_code == 200
    assert requests.get(f"{base}/search.json", params={"query": "printer"}, headers=tickets_read).status_code == 403


def test_organizations_autocomplete_by_the_start_of_the_name_in_cursor_pages(api, zendesk):
    for name in ("Kyoto Ceramics", "kyoto robotics", "Osaka Kyoto Foods", "Kyōto Garden"):
        assert api.post(api.base + "/organizations.json", json={"organization": {"name": name}}).status_code == 201
    url = api.base + "/organizations/autocomplete.json"
    first = api.get(url, params={"name": "KYOTO", "page[size]": 1}).json()
    assert [o["name"] for o in first["organizations"]] == ["Kyoto Ceramics"]  # by name, any case, prefix only
    assert first["meta"]["has_more"] is True
    second = api.get(first["links"]["next"]).json()
    assert [o["name"] for o in second["organizations"]] == ["kyoto robotics"] and second["meta"]["has_more"] is False
    assert api.get(url, params={"name": "K"}).status_code == 400  # two characters at least
