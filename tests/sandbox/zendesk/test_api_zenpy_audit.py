"""zenpy against the sandbox on what the audit against Zendesk's reference added or corrected
(docs/outside-apis-zendesk-audit.md): ticket_events' comment flags, tags that follow drop-down fields,
job results as a real job words them, organization search by external id, organization memberships
and the ticket tags endpoints."""
import time

import pytest
from zenpy.lib.api_objects import Organization, OrganizationMembership, Ticket, User
from zenpy.lib.exception import APIException

from tests.sandbox.zendesk.test_api_zenpy import client_for


@pytest.fixture
def zenpy(zendesk, monkeypatch):
    client = client_for(zendesk, monkeypatch)
    client.disable_caching()  # each read asks the sandbox, not zenpy's object cache
    return client


def _requester(zendesk):
    return next(u for u in zendesk.account().users.values() if u["role"] == "end-user")


def _finished(zenpy, job):
    deadline = time.monotonic() + 10
    while job.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.02)
        job = zenpy.job_status(id=job.id)
    return job


def test_ticket_events_list_comments_as_flags_unless_comment_events_are_included(zenpy, zendesk):
    account = zendesk.account()
    requester = _requester(zendesk)
    agent = next(u for u in account.users.values() if u["role"] == "agent")
    start = int(zendesk.state.clock.now()) - 300
    ticket, _ = account.create_ticket({"requester_id": requester["id"], "subject": "Flags"}, {"body": "Hello"},
                                      requester["id"], ts=start)
    _, note = account.update_ticket(ticket, {}, {"body": "Internal", "public": False}, agent["id"], ts=start + 1)

    def comments(include=None):
        events = [e for e in zenpy.tickets.events(start_time=start, include=include) if e.ticket_id == ticket["id"]]
        return [child for event in events for child in event.child_events if child["event_type"] == "Comment"]

    flags = comments()
    assert [(c["comment_present"], c["comment_public"]) for c in flags] == [(True, True), (True, False)]
    assert not any("body" in c for c in flags)
    whole = comments(include="comment_events")
    assert [(c["body"], c["public"]) for c in whole] == [("Hello", True), ("Internal", False)]
    assert whole[1]["id"] == note["id"]


def test_a_drop_down_field_puts_its_option_tag_on_the_ticket(zenpy, zendesk):
    product = next(f for f in zendesk.account().ticket_fields if f["type"] == "tagger")
    pro, lite = (option["value"] for option in product["custom_field_options"][:2])
    created = zenpy.tickets.create(Ticket(subject="Tagged", description="d", requester_id=_requester(zendesk)["id"],
                                          tags=["vip"], custom_fields=[{"id": product["id"], "value": pro}])).ticket
    assert sorted(created.tags) == sorted(["vip", pro])

    created.custom_fields = [{"id": product["id"], "value": lite}]
    zenpy.tickets.update(created)
    assert sorted(zenpy.tickets(id=created.id).tags) == sorted(["vip", lite])

    zenpy.tickets.delete_tags(created.id, [lite])  # removing the option's tag clears the field
    again = zenpy.tickets(id=created.id)
    assert again.tags == ["vip"]
    assert next(f["value"] for f in again.custom_fields if f["id"] == product["id"]) is None


def test_a_failed_item_of_a_users_job_is_worded_as_a_real_job_words_it(zenpy):
    job = zenpy.users.create_or_update([User(name="Good", email="good@job.example"),
                                        User(name="Bad", email="not-an-email@")])
    job = _finished(zenpy, job)
    good, bad = job.results
    assert good.status == "Created" and good.email == "good@job.example"
    assert (bad.status, bad.error, bad.id) == ("Failed", "InvalidFormat", 1)  # `id`: the item's position
    assert "not properly formatted" in bad.details


def test_organization_search_by_external_id_is_exact_and_ignores_case(zenpy):
    made = zenpy.organizations.create(Organization(name="Externally Known", external_id="zcrm:Accounts:77"))
    zenpy.organizations.create(Organization(name="Near Miss", external_id="zcrm:Accounts:770"))
    organizations = zenpy.organizations

    def by_external_id(value):
        # NB: zenpy's own `organizations.external()` appends its cursor paging after a second "?", which
        # spoils the external id (real Zendesk would find nothing either); the same endpoint, unpaged.
        return [o.id for o in organizations._query_zendesk(organizations.endpoint.external, "organization",
                                                           id=value, cursor_pagination=False)]

    assert by_external_id("ZCRM:accounts:77") == [made.id]
    assert by_external_id("zcrm:Accounts:7") == []


def test_organization_memberships_of_a_user_in_two_organizations(zenpy, zendesk):
    first = zenpy.organizations.create(Organization(name="First Co"))
    second = zenpy.organizations.create(Organization(name="Second Co"))
    user = zenpy.users.create(User(name="Two Hats", email="two@hats.example", organization_id=first.id))
    added = zenpy.organization_memberships.create(OrganizationMembership(user_id=user.id, organization_id=second.id))
    assert added.organization_id == second.id and added.default is False

    memberships = list(zenpy.users.organization_memberships(user=user.id))
    assert [(m.organization_id, m.default) for m in memberships] == [(first.id, True), (second.id, False)]
    assert zenpy.users(id=user.id).organization_id == first.id  # the default one

    with pytest.raises(APIException) as refused:
        zenpy.organization_memberships.create(OrganizationMembership(user_id=user.id, organization_id=second.id))
    assert refused.value.response.status_code == 422

    # A ticket may be in any of its requester's organizations, and in no other.
    ticket = zenpy.tickets.create(Ticket(subject="Second", description="d", requester_id=user.id,
                                         organization_id=second.id)).ticket
    assert ticket.organization_id == second.id
    stranger = zenpy.organizations.create(Organization(name="Stranger Co"))
    with pytest.raises(APIException) as refused:
        zenpy.tickets.create(Ticket(subject="No", description="d", requester_id=user.id, organization_id=stranger.id))
    assert refused.value.response.status_code == 422

    zenpy.organization_memberships.delete(memberships[0])  # the default goes: the other one is the default
    assert [(m.organization_id, m.default) for m in zenpy.users.organization_memberships(user=user.id)] == [
        (second.id, True)]
    assert zenpy.users(id=user.id).organization_id == second.id
    assert zendesk.account().users[user.id]["organization_id"] == second.id


def test_ticket_tags_endpoints_show_set_add_and_remove(zenpy, zendesk):
    ticket = zenpy.tickets.create(Ticket(subject="Tags", description="d", requester_id=_requester(zendesk)["id"],
                                         tags=["one"])).ticket
    assert list(zenpy.tickets.tags(ticket.id)) == ["one"]
    assert sorted(zenpy.tickets.add_tags(ticket.id, ["two", "three"])) == ["one", "three", "two"]
    assert sorted(zenpy.tickets.delete_tags(ticket.id, ["one"])) == ["three", "two"]
    assert list(zenpy.tickets.set_tags(ticket.id, ["only"])) == ["only"]
    assert zenpy.tickets(id=ticket.id).tags == ["only"]

    zendesk.account().update_ticket(zendesk.account().tickets[ticket.id], {"status": "closed"})
    with pytest.raises(APIException) as refused:  # closed tickets take no tags
        zenpy.tickets.add_tags(ticket.id, ["late"])
    assert refused.value.response.status_code == 422
