"""The CRM sandbox's records API over real HTTP: paging past 2000 with page_token, batch writes with
per-record results, upsert and duplicate checks, delete, search, COQL, related records, error envelopes."""
import requests

from tests.sandbox.crm.crm_helpers import assert_error, token_for


def test_5000_leads_paged_past_2000_with_page_token(big_crm):
    api = big_crm.api()
    seen, token, page = [], None, 0
    while True:
        params = {"fields": "Last_Name,Email", "per_page": 200}
        if token:
            params["page_token"] = token
        else:
            page += 1
            params["page"] = page
        answer = api.get(f"{api.base}/Leads", params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [r["id"] for r in body["data"]]
        assert set(body["data"][0]) == {"Last_Name", "Email", "id"}
        info = body["info"]
        assert info["count"] == len(body["data"]) and info["per_page"] == 200 and info["sort_order"] == "desc"
        if not info["more_records"]:
            assert info["next_page_token"] is None
            break
        if page == 10 or token:
            token = info["next_page_token"]
            assert token and info["page_token_expiry"]
    assert len(seen) == 5000 and len(set(seen)) == 5000
    assert seen == sorted(seen, reverse=True)  # default sort: id descending
    # page 11 at 200 a page is past the 2000 reachable with `page`
    assert_error(api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "page": 11}, timeout=10),
                 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")


def test_page_token_rules(crm):
    api = crm.api()
    first = api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "per_page": 5}, timeout=10).json()
    token = first["info"]["next_page_token"]
    second = api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "per_page": 5, "page_token": token}, timeout=10)
    assert second.json()["info"]["previous_page_token"] == token
    assert {r["id"] for r in second.json()["data"]}.isdisjoint(r["id"] for r in first["data"])
    assert_error(api.get(f"{api.base}/Contacts", params={"fields": "Email", "page_token": token}, timeout=10),
                 400, "TOKEN_BOUND_DATA_MISMATCH")
    assert_error(api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "page": 2, "page_token": token},
                         timeout=10), 400, "AMBIGUITY_DURING_PROCESSING")
    crm.control("clock", {"advance": 86401})
    api = crm.api()
    assert_error(api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "page_token": token}, timeout=10),
                 400, "EXPIRED_VALUE")


def test_list_rules_and_empty_204(crm):
    api = crm.api()
    assert_error(api.get(f"{api.base}/Leads", timeout=10), 400, "REQUIRED_PARAM_MISSING", param_name="fields")
    many = ",".join(f"F{n}" for n in range(51))
    assert_error(api.get(f"{api.base}/Leads", params={"fields": many}, timeout=10), 400, "LIMIT_EXCEEDED")
    assert_error(api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "per_page": 201}, timeout=10),
                 400, "INVALID_DATA", param_name="per_page")
    empty = api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "page": 10}, timeout=10)
    assert empty.status_code == 204 and empty.content == b""
    by_modified = api.get(f"{api.base}/Leads", params={"fields": "Modified_Time", "sort_by": "Modified_Time",
                                                       "sort_order": "asc"}, timeout=10).json()["data"]
    stamps = [r["Modified_Time"] for r in by_modified]
    assert stamps == sorted(stamps)


def test_insert_get_update_delete(crm):
    api = crm.api()
    account = api.get(f"{api.base}/Accounts", params={"fields": "Account_Name", "per_page": 1}, timeout=10).json()["data"][0]
    created = api.post(f"{api.base}/Contacts", json={"data": [
        {"Last_Name": "Kimura", "First_Name": "Aya", "Email": "aya@kimura.example", "Account_Name": {"id": account["id"]}},
    ]}, timeout=10)
    assert created.status_code == 201
    item = created.json()["data"][0]
    assert item["code"] == "SUCCESS" and item["message"] == "record added" and item["status"] == "success"
    assert set(item["details"]) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By", "$approval_state"}
    contact_id = item["details"]["id"]
    record = api.get(f"{api.base}/Contacts/{contact_id}", timeout=10).json()["data"][0]
    assert record["Full_Name"] == "Aya Kimura"
    assert record["Account_Name"] == {"name": account["Account_Name"], "id": account["id"]}
    assert record["Owner"]["email"] == "admin@us.zylker.example"

    updated = api.put(f"{api.base}/Contacts/{contact_id}", json={"data": [{"Title": "CTO"}]}, timeout=10)
    assert updated.status_code == 200 and updated.json()["data"][0]["message"] == "record updated"
    assert api.get(f"{api.base}/Contacts/{contact_id}", timeout=10).json()["data"][0]["Title"] == "CTO"

    bulk = api.put(f"{api.base}/Contacts", json={"data": [{"id": contact_id, "Department": "R&D"}, {"Title": "x"},
                                                          {"id": "123", "Title": "x"}]}, timeout=10)
    assert bulk.status_code == 207
    results = bulk.json()["data"]
    assert results[0]["code"] == "SUCCESS"
    assert results[1] == {"code": "MANDATORY_NOT_FOUND", "details": {"api_name": "id", "json_path": "$.data[1].id"},
                          "message": "required field not found", "status": "error"}
    assert results[2]["code"] == "INVALID_DATA" and results[2]["details"] == {"id": "123"}

    deleted = api.delete(f"{api.base}/Contacts", params={"ids": f"{contact_id},999"}, timeout=10)
    assert deleted.status_code == 207
    assert deleted.json()["data"][0] == {"code": "SUCCESS", "details": {"id": contact_id}, "message": "record deleted",
                                         "status": "success"}
    assert deleted.json()["data"][1]["code"] == "INVALID_DATA"
    assert api.get(f"{api.base}/Contacts/{contact_id}", timeout=10).status_code == 204
    assert_error(api.delete(f"{api.base}/Contacts", timeout=10), 400, "REQUIRED_PARAM_MISSING", param_name="ids")
    ids = ",".join(str(n) for n in range(101))
    assert_error(api.delete(f"{api.base}/Contacts", params={"ids": ids}, timeout=10), 400, "LIMIT_EXCEEDED")


def test_upsert_250_in_three_calls_with_one_invalid_record(crm):
    api = crm.api()
    people = [{"Last_Name": f"Upsert {n}", "Email": f"upsert{n}@bulk.example"} for n in range(250)]
    people[137] = {"Last_Name": "Broken", "Email": "not-an-email"}
    answers = [api.post(f"{api.base}/Leads/upsert", json={"data": people[i:i + 100]}, timeout=10)
               for i in range(0, 250, 100)]
    assert [a.status_code for a in answers] == [201, 207, 201]
    results = [r for a in answers for r in a.json()["data"]]
    assert len(results) == 250
    bad = results[137]
    assert bad == {"code": "INVALID_DATA", "details": {"api_name": "Email", "json_path": "$.data[37].Email",
                                                       "expected_data_type": "email"},
                   "message": "invalid data", "status": "error"}
    good = [r for n, r in enumerate(results) if n != 137]
    assert all(r["code"] == "SUCCESS" and r["action"] == "insert" and r["duplicate_field"] is None for r in good)
    found = api.get(f"{api.base}/Leads/search", params={"email": "upsert249@bulk.example"}, timeout=10).json()["data"]
    assert found[0]["Last_Name"] == "Upsert 249"

    # Replaying the same batch updates, matched on the system duplicate field Email
    # (docs/outside-apis.md#crm-writing-records).
    again = api.post(f"{api.base}/Leads/upsert", json={"data": people[:100]}, timeout=10)
    assert again.status_code == 200
    assert {(r["action"], r["duplicate_field"], r["message"]) for r in again.json()["data"]} == \
        {("update", "Email", "record updated")}
    over = api.post(f"{api.base}/Leads/upsert", json={"data": people[:101]}, timeout=10)
    assert_error(over, 400, "LIMIT_EXCEEDED", api_name="data")


def test_duplicate_check_fields_prevent_duplicates(crm):
    api = crm.api()
    body = {"data": [{"Account_Name": "Unique Corp", "Phone": "+81-3-0000-0000"}],
            "duplicate_check_fields": ["Account_Name"]}
    first = api.post(f"{api.base}/Accounts/upsert", json=body, timeout=10).json()["data"][0]
    body["data"][0]["Phone"] = "+81-3-1111-1111"
    second = api.post(f"{api.base}/Accounts/upsert", json=body, timeout=10).json()["data"][0]
    assert first["action"] == "insert" and second["action"] == "update"
    assert second["details"]["id"] == first["details"]["id"] and second["duplicate_field"] == "Account_Name"
    matches = api.get(f"{api.base}/Accounts/search", params={"criteria": "(Account_Name:equals:Unique Corp)"},
                      timeout=10).json()["data"]
    assert len(matches) == 1 and matches[0]["Phone"] == "+81-3-1111-1111"

    # Insert with duplicate_check_fields refuses the duplicate instead of adding a second record.
    dup = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "unique corp"}],
                                                 "duplicate_check_fields": ["Account_Name"]}, timeout=10)
    assert dup.status_code == 400
    item = dup.json()["data"][0]
    assert item["code"] == "DUPLICATE_DATA" and item["message"] == "duplicate data"
    assert item["details"]["api_name"] == "Account_Name" and item["details"]["duplicate_record"]["id"] == first["details"]["id"]
    # Only duplicate-check (system or unique) fields may be named.
    assert_error(api.post(f"{api.base}/Accounts/upsert", json={**body, "duplicate_check_fields": ["Phone"]}, timeout=10),
                 400, "INVALID_DATA", api_name="Phone")


def test_record_level_errors(crm):
    api = crm.api()
    answer = api.post(f"{api.base}/Deals", json={"data": [
        {"Deal_Name": "No stage"},
        {"Deal_Name": "Bad amount", "Stage": "Qualification", "Amount": "lots"},
        {"Deal_Name": "Bad account", "Stage": "Qualification", "Account_Name": {"id": "42"}},
        {"Deal_Name": "Fine", "Stage": "Qualification", "Amount": 1200, "Closing_Date": "2026-12-24"},
    ]}, timeout=10)
    assert answer.status_code == 207
    results = answer.json()["data"]
    assert results[0] == {"code": "MANDATORY_NOT_FOUND", "details": {"api_name": "Stage", "json_path": "$.data[0].Stage"},
                          "message": "required field not found", "status": "error"}
    assert results[1]["code"] == "INVALID_DATA" and results[1]["details"]["expected_data_type"] == "currency"
    assert results[2]["code"] == "INVALID_DATA" and results[2]["details"]["api_name"] == "Account_Name"
    assert results[3]["code"] == "SUCCESS"
    all_bad = api.post(f"{api.base}/Deals", json={"data": [{"Stage": "Qualification"}]}, timeout=10)
    assert all_bad.status_code == 400 and all_bad.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert_error(api.post(f"{api.base}/Deals", json={"data": []}, timeout=10), 400, "MANDATORY_NOT_FOUND", api_name="data")
    assert_error(api.post(f"{api.base}/Deals", data="{not json", timeout=10), 400, "INVALID_DATA")


def test_request_level_error_envelopes(crm):
    api = crm.api()
    base = api.base
    assert_error(requests.get(f"{base}/Leads", params={"fields": "Last_Name"}, timeout=10), 401, "AUTHENTICATION_FAILURE")
    assert_error(requests.get(f"{base}/Leads", params={"fields": "Last_Name"},
                              headers={"Authorization": "Zoho-oauthtoken 1000.nope"}, timeout=10), 401, "INVALID_TOKEN")
    assert_error(api.get(f"{base}/Nope", params={"fields": "Name"}, timeout=10), 400, "INVALID_MODULE")
    assert_error(api.get(f"{base}/Leads/1/Notes/extra/path", timeout=10), 404, "INVALID_URL_PATTERN")
    assert_error(api.patch(f"{base}/Leads/search", timeout=10), 400, "INVALID_REQUEST_METHOD")
    viewer = crm.api("us", token_for(crm, "viewer@us.zylker.example", "us-viewer-pass", "ZohoCRM.modules.ALL"))
    assert viewer.get(f"{base}/Leads", params={"fields": "Last_Name"}, timeout=10).status_code == 200
    assert_error(viewer.post(f"{base}/Leads", json={"data": [{"Last_Name": "X"}]}, timeout=10), 403, "NO_PERMISSION")
    crm.control("faults", {"error_rate": 1})
    assert_error(api.get(f"{base}/Leads", params={"fields": "Last_Name"}, timeout=10), 500, "INTERNAL_ERROR")
    crm.control("faults", {"error_rate": 0})


def test_search_criteria_email_word(crm):
    api = crm.api()
    api.post(f"{api.base}/Leads", json={"data": [
        {"Last_Name": "Searchable", "First_Name": "Sam", "Email": "sam@find.example", "Company": "Paren (thesis), Inc"},
        {"Last_Name": "Searchless", "Email": "other@find.example", "Company": "Other"},
    ]}, timeout=10)

    def search(**params):
        answer = api.get(f"{api.base}/Leads/search", params=params, timeout=10)
        return [] if answer.status_code == 204 else answer.json()["data"]

    assert [r["Last_Name"] for r in search(criteria="((Last_Name:starts_with:Search)and(Email:equals:sam@find.example))")] \
        == ["Searchable"]
    assert {r["Last_Name"] for r in search(criteria="((Email:equals:sam@find.example)or(Email:equals:other@find.example))")} \
        == {"Searchable", "Searchless"}
    assert [r["Last_Name"] for r in search(criteria=r"(Company:equals:Paren \(thesis\)\, Inc)")] == ["Searchable"]
    assert [r["Last_Name"] for r in search(criteria="(Last_Name:in:Searchable,Nobody)")] == ["Searchable"]
    assert [r["Last_Name"] for r in search(email="SAM@find.example")] == ["Searchable"]
    assert {r["Last_Name"] for r in search(word="find.example")} == {"Searchable", "Searchless"}
    assert search(email="nobody@nowhere.example") == []
    info = api.get(f"{api.base}/Leads/search", params={"word": "find.example"}, timeout=10).json()["info"]
    assert info == {"per_page": 200, "count": 2, "page": 1, "more_records": False}
    assert_error(api.get(f"{api.base}/Leads/search", timeout=10), 400, "EXPECTED_PARAM_MISSING")
    assert_error(api.get(f"{api.base}/Leads/search", params={"criteria": "(Last_Name:like:x)"}, timeout=10), 400, "INVALID_QUERY")
    assert_error(api.get(f"{api.base}/Leads/search", params={"criteria": "Last_Name:equals:x"}, timeout=10), 400, "INVALID_QUERY")
    assert_error(api.get(f"{api.base}/Leads/search", params={"criteria": "(Nope:equals:x)"}, timeout=10), 400, "INVALID_QUERY")
    no_search_scope = crm.api("us", token_for(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL"))
    assert_error(no_search_scope.get(f"{api.base}/Leads/search", params={"word": "find"}, timeout=10), 401, "OAUTH_SCOPE_MISMATCH")


def test_coql_simple_selects(crm):
    api = crm.api()
    api.post(f"{api.base}/Contacts", json={"data": [{"Last_Name": "Coql", "Email": "coql@q.example"}]}, timeout=10)

    def coql(query):
        return api.post(f"{api.base}/coql", json={"select_query": query}, timeout=10)

    answer = coql("select Last_Name, Email, Account_Name from Contacts where Email = 'coql@q.example'")
    assert answer.status_code == 200
    assert answer.json()["data"] == [{"Last_Name": "Coql", "Email": "coql@q.example", "Account_Name": None,
                                      "id": answer.json()["data"][0]["id"]}]
    assert answer.json()["info"] == {"count": 1, "more_records": False}
    rows = coql("select Deal_Name, Account_Name, Account_Name.Account_Name from Deals where "
                "(Amount > 0 and Stage is not null) order by Deal_Name asc limit 3").json()
    assert len(rows["data"]) == 3 and rows["info"]["more_records"] is True
    assert [r["Deal_Name"] for r in rows["data"]] == sorted(r["Deal_Name"] for r in rows["data"])
    # COQL shows lookups as {"id"} (docs/outside-apis.md#crm-record-json)
    assert set(rows["data"][0]["Account_Name"]) == {"id"}
    assert rows["data"][0]["Account_Name.Account_Name"]
    page = coql("select Last_Name from Contacts where Last_Name like 'C%' limit 1, 1")
    assert page.status_code in (200, 204)
    assert coql("select Last_Name from Contacts where Email = 'nobody@q.example'").status_code == 204
    assert_error(coql("select from Contacts"), 400, "SYNTAX_ERROR")
    assert_error(coql("select Nope from Contacts"), 400, "INVALID_QUERY", column_name="Nope")
    assert_error(coql("select Last_Name from Contacts limit 2001"), 400, "LIMIT_EXCEEDED")


def test_related_records(crm):
    api = crm.api()
    account = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "Related Co"}]}, timeout=10).json()["data"][0]
    account_id = account["details"]["id"]
    api.post(f"{api.base}/Contacts", json={"data": [{"Last_Name": f"Rel {n}", "Account_Name": {"id": account_id}}
                                                    for n in range(3)]}, timeout=10)
    answer = api.get(f"{api.base}/Accounts/{account_id}/Contacts", params={"fields": "Last_Name"}, timeout=10)
    assert answer.status_code == 200
    assert sorted(r["Last_Name"] for r in answer.json()["data"]) == ["Rel 0", "Rel 1", "Rel 2"]
    assert api.get(f"{api.base}/Accounts/{account_id}/Deals", params={"fields": "Deal_Name"}, timeout=10).status_code == 204
    assert_error(api.get(f"{api.base}/Accounts/{account_id}/Contacts", timeout=10), 400, "REQUIRED_PARAM_MISSING")
    assert_error(api.get(f"{api.base}/Accounts/{account_id}/Nope", params={"fields": "Name"}, timeout=10), 400, "INVALID_DATA")


def test_related_records_page_past_2000_with_page_token(crm):
    api = crm.api()
    account_id = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "Big Customer"}]},
                          timeout=10).json()["data"][0]["details"]["id"]
    for batch in range(23):  # 2,300 contacts of one account, 100 a call
        answer = api.post(f"{api.base}/Contacts", json={"data": [
            {"Last_Name": f"Member {batch * 100 + n}", "Account_Name": {"id": account_id}} for n in range(100)]},
            timeout=30)
        assert answer.status_code == 201, answer.text
    url = f"{api.base}/Accounts/{account_id}/Contacts"
    assert_error(api.get(url, params={"fields": "Last_Name", "page": 11}, timeout=10),
                 400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")
    seen, params = [], {"fields": "Last_Name", "per_page": 200, "page": 1}
    while True:
        info = (body := api.get(url, params=params, timeout=10).json())["info"]
        seen += [r["id"] for r in body["data"]]
        if not info["more_records"]:
            assert info["next_page_token"] is None
            break
        params = {"fields": "Last_Name", "per_page": 200, "page_token": info["next_page_token"]}
    assert len(seen) == 2300 and len(set(seen)) == 2300 and seen == sorted(seen, reverse=True)
    # A token belongs to its list: the same token on another account's contacts is refused.
    first = api.get(url, params={"fields": "Last_Name", "per_page": 5}, timeout=10).json()["info"]["next_page_token"]
    other = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "Small Customer"}]},
                     timeout=10).json()["data"][0]["details"]["id"]
    assert_error(api.get(f"{api.base}/Accounts/{other}/Contacts", params={"fields": "Last_Name", "page_token": first},
                         timeout=10), 400, "TOKEN_BOUND_DATA_MISMATCH")
    assert_error(api.get(url, params={"fields": "Last_Name", "page": 2, "page_token": first}, timeout=10),
                 400, "AMBIGUITY_DURING_PROCESSING")


def test_record_count_follows_inserts_and_deletes(crm):
    api = crm.api()
    count = api.get(f"{api.base}/Contacts/actions/count", timeout=10)
    assert count.status_code == 200 and set(count.json()) == {"count"}
    before = count.json()["count"]
    created = api.post(f"{api.base}/Contacts", json={"data": [{"Last_Name": "Counted"}]}, timeout=10)
    assert api.get(f"{api.base}/Contacts/actions/count", timeout=10).json() == {"count": before + 1}
    api.delete(f"{api.base}/Contacts", params={"ids": created.json()["data"][0]["details"]["id"]}, timeout=10)
    assert api.get(f"{api.base}/Contacts/actions/count", timeout=10).json() == {"count": before}
    assert_error(api.get(f"{api.base}/Nothing/actions/count", timeout=10), 400, "INVALID_MODULE")
