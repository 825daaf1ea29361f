"""Conformance: Zoho's official Python SDK for API v8 (`zohocrmsdk8_0`), unchanged, against the sandbox.

Initialised as docs/outside-apis.md#crm-python-sdk describes: a custom `DataCenter.Environment` pointing at the
sandbox's JP data centre and the Self-Client refresh token from the sandbox's credentials. The SDK refreshes the token,
reads the current user and org, fetches module and field metadata, then reads and inserts records; it
reads every empty answer (204, 304) as "no content", counts records and lists deleted records.
"""
from datetime import datetime, timedelta, timezone

import pytest
import requests

pytest.importorskip("zohocrmsdk")

from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore  # noqa: E402
from zohocrmsdk.src.com.zoho.api.logger import Logger  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, Initializer, ParameterMap  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.record import (  # noqa: E402
    APIException, BodyWrapper, CountWrapper, DeletedRecordsWrapper, DeleteRecordsParam, GetDeletedRecordsHeader,
    GetDeletedRecordsParam, GetRecordsHeader, GetRecordsParam, Record, RecordCountParam, RecordOperations,
    ResponseWrapper, SearchRecordsParam, SuccessResponse)
from zohocrmsdk.src.com.zoho.crm.api.related_records import (  # noqa: E402
    GetRelatedRecordsParam, RelatedRecordsOperations)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig  # noqa: E402


def start_sdk(crm, tmp_path):
    creds = crm.dc("jp")
    environment = DataCenter.Environment(creds["api_domain"], creds["token_url"], creds["api_domain"])
    token = OAuthToken(client_id=creds["client_id"], client_secret=creds["client_secret"],
                       refresh_token=creds["refresh_token"])
    Initializer.initialize(environment=environment, token=token, store=FileStore(str(tmp_path / "tokens.csv")),
                           sdk_config=SDKConfig(auto_refresh_fields=True, pick_list_validation=False),
                           resource_path=str(tmp_path),
                           logger=Logger.get_instance(Logger.Levels.INFO, str(tmp_path / "sdk.log")))
    return creds


def params(param_class=None, **values):
    built = ParameterMap()
    for name, value in values.items():
        built.add(getattr(param_class, name), value)
    return built


def create(module, **fields):
    record = Record()
    for name, value in fields.items():
        record.add_key_value(name, value)
    body = BodyWrapper()
    body.set_data([record])
    answer = RecordOperations(module).create_records(body, HeaderMap())
    assert answer.get_status_code() == 201
    return answer.get_object().get_data()[0].get_details()["id"]


def delete(module, *ids):
    answer = RecordOperations(module).delete_records(params(DeleteRecordsParam, ids=",".join(ids)), HeaderMap())
    assert answer.get_status_code() == 200
    assert [r.get_code().get_value() for r in answer.get_object().get_data()] == ["SUCCESS"] * len(ids)


def test_official_sdk_reads_and_inserts_records(crm, tmp_path):
    creds = start_sdk(crm, tmp_path)
    # The token's api_domain points back at the sandbox, so the SDK kept our environment.
    assert Initializer.get_initializer().environment.url == creds["api_domain"]

    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Last_Name,Email")
    params.add(GetRecordsParam.per_page, 5)
    response = RecordOperations("Leads").get_records(params, HeaderMap())
    assert response.get_status_code() == 200
    wrapper = response.get_object()
    assert isinstance(wrapper, ResponseWrapper)
    records = wrapper.get_data()
    assert len(records) == 5 and all(r.get_key_value("Last_Name") for r in records)
    assert wrapper.get_info().get_more_records() is True and wrapper.get_info().get_next_page_token()

    record = Record()
    record.add_key_value("Last_Name", "SDK Person")
    record.add_key_value("Email", "sdk.person@example.com")
    body = BodyWrapper()
    body.set_data([record])
    created = RecordOperations("Leads").create_records(body, HeaderMap())
    assert created.get_status_code() == 201
    result = created.get_object().get_data()[0]
    assert isinstance(result, SuccessResponse) and result.get_code().get_value() == "SUCCESS"
    new_id = result.get_details()["id"]
    stored = crm.sandbox.org("jp").modules["Leads"].records[new_id]
    assert (stored["Last_Name"], stored["Email"]) == ("SDK Person", "sdk.person@example.com")

    # An error answer is parsed into the SDK's APIException with Zoho's code.
    params = ParameterMap()
    params.add(GetRecordsParam.per_page, 5)
    failed = RecordOperations("Leads").get_records(params, HeaderMap())
    assert failed.get_status_code() == 400
    assert isinstance(failed.get_object(), APIException)
    assert failed.get_object().get_code().get_value() == "REQUIRED_PARAM_MISSING"


def no_content(answer, status=204):
    """The SDK's answer to an empty result: the status, and no object (its samples check for 204/304)."""
    assert answer is not None, "the SDK failed to read the answer (see sdk.log)"
    assert answer.get_status_code() == status and answer.get_object() is None
    return True


def test_official_sdk_reads_every_empty_answer_as_no_content(crm, tmp_path):
    creds = start_sdk(crm, tmp_path)
    # A search with no match.
    assert no_content(RecordOperations("Leads").search_records(
        params(SearchRecordsParam, email="nobody@example.com"), HeaderMap()))
    # A list with nothing newer than If-Modified-Since: 304.
    headers = HeaderMap()
    headers.add(GetRecordsHeader.if_modified_since, datetime.now(timezone.utc) + timedelta(days=1))
    assert no_content(RecordOperations("Leads").get_records(
        params(GetRecordsParam, fields="Last_Name"), headers), status=304)
    # A record's empty related list.
    account = create("Accounts", Account_Name="No Contacts KK")
    assert no_content(RelatedRecordsOperations("Contacts", "Accounts").get_related_records(
        int(account), params(GetRelatedRecordsParam, fields="Last_Name"), HeaderMap()))
    # No deleted records yet.
    assert no_content(RecordOperations("Leads").get_deleted_records(ParameterMap(), HeaderMap()))

    # On the wire: a 204 has neither a body nor a Content-Type (the SDK would parse it by its type).
    api = crm.api("jp")
    for path in ("/Leads/search?email=nobody@example.com", f"/Accounts/{account}/Contacts?fields=Last_Name",
                 "/Leads/deleted"):
        answer = api.get(api.base + path, timeout=10)
        assert answer.status_code == 204 and answer.content == b"" and "Content-Type" not in answer.headers, path
    assert creds["api_domain"] in api.base


def test_official_sdk_counts_records(crm, tmp_path):
    start_sdk(crm, tmp_path)
    leads = crm.sandbox.org("jp").modules["Leads"].records
    answer = RecordOperations("Leads").record_count(ParameterMap())
    assert answer.get_status_code() == 200
    assert isinstance(answer.get_object(), CountWrapper) and answer.get_object().get_count() == len(leads)

    create("Leads", Last_Name="Counted", Email="counted.once@example.com")
    answer = RecordOperations("Leads").record_count(params(RecordCountParam, email="counted.once@example.com"))
    assert answer.get_object().get_count() == 1
    answer = RecordOperations("Leads").record_count(params(RecordCountParam, criteria="(Last_Name:equals:Counted)"))
    assert answer.get_object().get_count() == 1
    assert RecordOperations("Leads").record_count(ParameterMap()).get_object().get_count() == len(leads)


def test_official_sdk_lists_deleted_records_by_type_and_time(crm, tmp_path):
    start_sdk(crm, tmp_path)
    org = crm.sandbox.org("jp")
    first = create("Contacts", Last_Name="Gone", First_Name="Early", Email="gone.early@example.com")
    second = create("Contacts", Last_Name="Gone", First_Name="Later", Email="gone.later@example.com")
    delete("Contacts", first)
    org.state.clock.advance(60)
    delete("Contacts", second)

    answer = RecordOperations("Contacts").get_deleted_records(params(GetDeletedRecordsParam, type="recycle"),
                                                              HeaderMap())
    assert answer.get_status_code() == 200 and isinstance(answer.get_object(), DeletedRecordsWrapper)
    records = answer.get_object().get_data()
    assert [r.get_id() for r in records] == [int(second), int(first)]  # newest deletion first
    later = records[0]
    admin = org.admin()
    assert later.get_type() == "recycle" and later.get_display_name() == "Later Gone"
    by = later.get_deleted_by()
    assert (by.get_name(), by.get_id()) == (admin["full_name"], int(admin["id"]))
    assert later.get_created_by().get_id() == int(admin["id"])
    assert isinstance(later.get_deleted_time(), datetime)
    assert later.get_deleted_time() - records[1].get_deleted_time() == timedelta(seconds=60)
    info = answer.get_object().get_info()
    assert (info.get_count(), info.get_page(), info.get_more_records()) == (2, 1, False)

    # Deleted after a time (If-Modified-Since), as a sync reading deletions since its last look does.
    headers = HeaderMap()
    headers.add(GetDeletedRecordsHeader.if_modified_since, records[1].get_deleted_time() + timedelta(seconds=1))
    answer = RecordOperations("Contacts").get_deleted_records(ParameterMap(), headers)
    assert [r.get_id() for r in answer.get_object().get_data()] == [int(second)]

    # Paged: one a page.
    answer = RecordOperations("Contacts").get_deleted_records(params(GetDeletedRecordsParam, per_page=1, page=2),
                                                              HeaderMap())
    assert [r.get_id() for r in answer.get_object().get_data()] == [int(first)]
    assert answer.get_object().get_info().get_more_records() is False

    # Nothing was deleted for good yet; once the bin is emptied, both are, with only id and time left.
    assert no_content(RecordOperations("Contacts").get_deleted_records(
        params(GetDeletedRecordsParam, type="permanent"), HeaderMap()))
    crm.control("orgs/jp/recycle_bin/empty", {})
    answer = RecordOperations("Contacts").get_deleted_records(params(GetDeletedRecordsParam, type="permanent"),
                                                              HeaderMap())
    gone = answer.get_object().get_data()
    assert [r.get_id() for r in gone] == [int(second), int(first)]
    assert all(r.get_type() == "permanent" and r.get_deleted_by() is None and r.get_display_name() is None
               for r in gone)
    assert no_content(RecordOperations("Contacts").get_deleted_records(
        params(GetDeletedRecordsParam, type="recycle"), HeaderMap()))
    all_types = RecordOperations("Contacts").get_deleted_records(params(GetDeletedRecordsParam, type="all"),
                                                                 HeaderMap())
    assert len(all_types.get_object().get_data()) == 2


def test_deleted_records_leave_the_bin_after_60_days_and_a_bad_type_is_refused(crm):
    api = crm.api("jp")
    lead = next(iter(crm.sandbox.org("jp").modules["Leads"].records))
    assert api.delete(f"{api.base}/Leads/{lead}", timeout=10).status_code == 200
    listed = api.get(f"{api.base}/Leads/deleted", params={"type": "recycle"}, timeout=10).json()["data"]
    assert [e["id"] for e in listed] == [lead] and set(listed[0]) == {
        "deleted_by", "id", "display_name", "type", "created_by", "deleted_time"}
    crm.sandbox.state.clock.advance(60 * 86400)
    api = crm.api("jp")  # the old access token expired meanwhile
    assert api.get(f"{api.base}/Leads/deleted", params={"type": "recycle"}, timeout=10).status_code == 204
    listed = api.get(f"{api.base}/Leads/deleted", params={"type": "permanent"}, timeout=10).json()["data"]
    assert [(e["id"], e["type"]) for e in listed] == [(lead, "permanent")]

    refused = api.get(f"{api.base}/Leads/deleted", params={"type": "trash"}, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["data"][0]["code"] == "PATTERN_NOT_MATCHED"
    assert refused.json()["data"][0]["details"] == {"param_name": "type"}
    assert requests.get(f"{api.base}/Leads/deleted", timeout=10).status_code == 401  # no token
