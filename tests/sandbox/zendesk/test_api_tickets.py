"""Tickets and ticket comments of the Zendesk sandbox, over real HTTP (docs/outside-apis.md#zendesk-objects,
docs/outside-apis.md#zendesk-writes-and-search, docs/outside-apis.md#zendesk-errors)."""

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
TOO_MANY = {"error": "TooManyValues", "description": "Parameter  cannot specify more than 100 values", "max_count": 100}


def test_show_ticket_has_the_real_shape_with_and_without_json_suffix(api, zendesk):
    for path in ("/tickets/1.json", "/tickets/1"):
        response = api.get(api.base + path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        ticket = response.json()["ticket"]
        assert ticket["id"] == 1
        assert ticket["url"] == f"{zendesk.url}/api/v2/tickets/1.json"
        assert not [key for key in ticket if key.startswith("_")]
        assert ticket["status"] in ("new", "open", "pending", "hold", "solved", "closed")
        assert ticket["custom_fields"] == ticket["fields"]
        custom_ids = {f["id"] for f in zendesk.account().ticket_fields if not f.get("_system")}
        assert {f["id"] for f in ticket["custom_fields"]} == custom_ids


def test_unknown_ticket_is_record_not_found(api):
    response = api.get(api.base + "/tickets/99999.json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert api.put(api.base + "/tickets/99999.json", json={"ticket": {"status": "open"}}).json() == NOT_FOUND
    assert api.get(api.base + "/tickets/99999/comments.json").status_code == 404


def test_show_many_returns_known_ids_and_refuses_more_than_100(api):
    body = api.get(api.base + "/tickets/show_many.json", params={"ids": "1,2,3,424242"}).json()
    assert sorted(t["id"] for t in body["tickets"]) == [1, 2, 3]
    assert body["count"] == 3 and body["next_page"] is None
    too_many = api.get(api.base + "/tickets/show_many.json", params={"ids": ",".join(map(str, range(1, 102)))})
    assert too_many.status_code == 400
    assert too_many.json() == TOO_MANY


def test_create_ticket_with_inline_requester_answers_201_with_audit_and_location(api, zendesk):
    payload = {"ticket": {"subject": "Printer on fire", "priority": "urgent",
                          "comment": {"body": "Smoke everywhere"},
                          "requester": {"name": "Mio Mori", "email": "Mio.Mori@example.org"},
                          "assignee_email": "agent1@acme.example"}}
    response = api.post(api.base + "/tickets.json", json=payload)
    assert response.status_code == 201
    body = response.json()
    ticket, audit = body["ticket"], body["audit"]
    assert response.headers["Location"] == f"{zendesk.url}/api/v2/tickets/{ticket['id']}.json"
    assert ticket["subject"] == "Printer on fire" and ticket["description"] == "Smoke everywhere"
    assert ticket["status"] == "new" and ticket["priority"] == "urgent"
    requester = api.get(api.base + f"/users/{ticket['requester_id']}.json").json()["user"]
    assert requester["email"] == "mio.mori@example.org" and requester["role"] == "end-user"
    assignee = api.get(api.base + f"/users/{ticket['assignee_id']}.json").json()["user"]
    assert assignee["email"] == "agent1@acme.example"
    assert audit["ticket_id"] == ticket["id"]
    assert {"Comment", "Create"} <= {event["type"] for event in audit["events"]}
    # The same requester email again finds the user instead of creating a second one.
    again = api.post(api.base + "/tickets.json", json=payload).json()["ticket"]
    assert again["requester_id"] == ticket["requester_id"] and again["id"] == ticket["id"] + 1


def test_create_ticket_defaults_requester_to_caller_and_accepts_description(api):
    response = api.post(api.base + "/tickets.json", json={"ticket": {"subject": "x", "description": "y"}})
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    me = api.get(api.base + "/users/me.json").json()["user"]
    assert ticket["requester_id"] == me["id"] == ticket["submitter_id"]
    assert ticket["description"] == "y"


def test_create_ticket_validation_errors_are_record_invalid(api):
    no_comment = api.post(api.base + "/tickets.json", json={"ticket": {"subject": "no body"}})
    assert no_comment.status_code == 422
    assert no_comment.json()["error"] == "RecordInvalid"
    assert no_comment.json()["description"] == "Record validation errors"
    assert "description" in no_comment.json()["details"]
    bad_status = api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "b"}, "status": "lost"}})
    assert bad_status.status_code == 422
    assert bad_status.json()["details"]["status"][0]["error"] == "InvalidValue"
    bad_assignee = api.post(api.base + "/tickets.json",
                            json={"ticket": {"comment": {"body": "b"}, "assignee_email": "nobody@x.example"}})
    assert bad_assignee.status_code == 422 and "assignee" in bad_assignee.json()["details"]


def test_update_ticket_adds_comment_and_closed_ticket_refuses_updates(api):
    ticket_id = api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "first"}}}).json()["ticket"]["id"]
    response = api.put(api.base + f"/tickets/{ticket_id}.json",
                       json={"ticket": {"status": "solved", "comment": {"body": "Fixed it", "public": False},
                                        "additional_tags": ["vip"]}})
    assert response.status_code == 200
    body = response.json()
    assert body["ticket"]["status"] == "solved" and body["ticket"]["tags"] == ["vip"]
    assert any(e["type"] == "Change" and e["field_name"] == "status" and e["value"] == "solved"
               for e in body["audit"]["events"])
    comments = api.get(api.base + f"/tickets/{ticket_id}/comments.json").json()["comments"]
    assert [c["body"] for c in comments] == ["first", "Fixed it"]
    assert comments[1]["public"] is False and "updated_at" not in comments[1]

    assert api.put(api.base + f"/tickets/{ticket_id}.json", json={"ticket": {"status": "closed"}}).status_code == 200
    refused = api.put(api.base + f"/tickets/{ticket_id}.json", json={"ticket": {"comment": {"body": "again"}}})
    assert refused.status_code == 422
    assert refused.json() == {"error": "RecordInvalid", "description": "Record validation errors",
                              "details": {"status": [{"description": "Status: closed prevents ticket update",
                                                      "error": "InvalidValue"}]}}


def test_a_comment_by_another_author_and_its_public_flag_from_the_first_comment(api):
    """`comment.author_id` names the comment's author while the caller stays the updater; a comment sent
    without `public` keeps the first comment's (Zendesk's Ticket Comments reference)."""
    me = api.get(api.base + "/users/me.json").json()["user"]
    agent = api.get(api.base + "/users/search.json", params={"query": "role:agent"}).json()["users"][0]
    created = api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "Note", "public": False}}})
    ticket = created.json()["ticket"]
    assert ticket["is_public"] is False
    answer = api.put(api.base + f"/tickets/{ticket['id']}.json",
                     json={"ticket": {"comment": {"body": "By the agent", "author_id": agent["id"]}}}).json()
    [event] = [e for e in answer["audit"]["events"] if e["type"] == "Comment"]
    assert (event["author_id"], event["public"], answer["audit"]["author_id"]) == (agent["id"], False, me["id"])
    api.put(api.base + f"/tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": "Hi", "public": True}}})
    comments = api.get(api.base + f"/tickets/{ticket['id']}/comments.json").json()["comments"]
    assert [(c["body"], c["public"], c["author_id"]) for c in comments] == [
        ("Note", False, me["id"]), ("By the agent", False, agent["id"]), ("Hi", True, me["id"])]
    assert api.get(api.base + f"/tickets/{ticket['id']}.json").json()["ticket"]["is_public"] is True


def test_comments_are_sorted_and_paginate_by_cursor_and_offset(api):
    ticket_id = api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "c0"}}}).json()["ticket"]["id"]
    for n in range(1, 5):
        api.put(api.base + f"/tickets/{ticket_id}.json", json={"ticket": {"comment": {"body": f"c{n}"}}})
    url = api.base + f"/tickets/{ticket_id}/comments.json"

    bodies, params = [], {"page[size]": 2}
    while True:
        page = api.get(url, params=params).json()
        bodies += [c["body"] for c in page["comments"]]
        if not page["meta"]["has_more"]:
            break
        url, params = page["links"]["next"], None
    assert bodies == ["c0", "c1", "c2", "c3", "c4"]

    url = api.base + f"/tickets/{ticket_id}/comments.json"
    newest_first = api.get(url, params={"page[size]": 3, "sort": "-created_at"}).json()
    assert [c["body"] for c in newest_first["comments"]] == ["c4", "c3", "c2"]
    offset = api.get(url, params={"per_page": 2, "page": 3}).json()
    assert [c["body"] for c in offset["comments"]] == ["c4"]
    assert offset["count"] == 5 and offset["next_page"] is None
    assert "page=2" in offset["previous_page"]
    assert [c["body"] for c in api.get(url, params={"sort_order": "desc", "per_page": 1}).json()["comments"]] == ["c4"]


def test_bulk_ticket_calls_past_100_are_too_many_values(api):
    tickets = [{"comment": {"body": "b"}} for _ in range(101)]
    created = api.post(api.base + "/tickets/create_many.json", json={"tickets": tickets})
    assert created.status_code == 400
    assert created.json() == TOO_MANY
    updated = api.put(api.base + "/tickets/update_many.json", json={"tickets": [dict(t, id=1) for t in tickets]})
    assert updated.status_code == 400
    assert updated.json() == TOO_MANY


def test_list_filters_by_external_id(api):
    for _ in range(2):
        api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "b"}, "external_id": "crm-7"}})
    listed = api.get(api.base + "/tickets.json", params={"external_id": "crm-7"}).json()
    assert listed["count"] == 2 and {t["external_id"] for t in listed["tickets"]} == {"crm-7"}


def test_an_idempotency_key_makes_a_repeated_create_answer_the_first_ticket(api, zendesk):
    """Zendesk's `Idempotency-Key` on ticket creation: the same key and body answer the first ticket again
    (`x-idempotency-lookup: hit`), another body under the key is refused, and the key lasts two hours."""
    payload = {"ticket": {"subject": "Once only", "comment": {"body": "Hello"}}}
    first = api.post(api.base + "/tickets.json", json=payload, headers={"Idempotency-Key": "form-1"})
    again = api.post(api.base + "/tickets.json", json=payload, headers={"Idempotency-Key": "form-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert (first.headers["x-idempotency-lookup"], again.headers["x-idempotency-lookup"]) == ("miss", "hit")
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert sum(1 for t in zendesk.account().tickets.values() if t["subject"] == "Once only") == 1

    other = api.post(api.base + "/tickets.json", json={"ticket": {"subject": "Other", "comment": {"body": "Hi"}}},
                     headers={"Idempotency-Key": "form-1"})
    assert other.status_code == 400 and other.json()["error"] == "IdempotentRequestError"
    # A refused create keeps nothing under its key: corrected, it creates.
    blank = api.post(api.base + "/tickets.json", json={"ticket": {"subject": "Blank"}},
                     headers={"Idempotency-Key": "k2"})
    assert blank.status_code == 422
    fixed = api.post(api.base + "/tickets.json", json={"ticket": {"subject": "Blank", "comment": {"body": "Now"}}},
                     headers={"Idempotency-Key": "k2"})
    assert fixed.status_code == 201 and fixed.headers["x-idempotency-lookup"] == "miss"

    zendesk.state.clock.advance(2 * 3600)
    later = api.post(api.base + "/tickets.json", json=payload, headers={"Idempotency-Key": "form-1"})
    assert later.headers["x-idempotency-lookup"] == "miss"
    assert later.json()["ticket"]["id"] != first.json()["ticket"]["id"]
