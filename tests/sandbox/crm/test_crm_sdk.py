"""Conformance: Zoho's official Python SDK for API v8 (`zohocrmsdk8_0`), unchanged, against the sandbox.

Initialised as zoho-crm-api.md §7.1 describes: a custom `DataCenter.Environment` pointing at the sandbox's JP
data centre and the Self-Client refresh token from the sandbox's credentials. The SDK refreshes the token,
reads the current user and org, fetches module and field metadata, then reads and inserts records.
"""
import pytest

pytest.importorskip("zohocrmsdk")

from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore  # noqa: E402
from zohocrmsdk.src.com.zoho.api.logger import Logger  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, Initializer, ParameterMap  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.record import (  # noqa: E402
    APIException, BodyWrapper, GetRecordsParam, Record, RecordOperations, ResponseWrapper, SuccessResponse)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig  # noqa: E402


def test_official_sdk_reads_and_inserts_records(crm, tmp_path):
    creds = crm.dc("jp")
    environment = DataCenter.Environment(creds["api_domain"], creds["token_url"], creds["api_domain"])
    token = OAuthToken(client_id=creds["client_id"], client_secret=creds["client_secret"],
                       refresh_token=creds["refresh_token"])
    Initializer.initialize(environment=environment, token=token, store=FileStore(str(tmp_path / "tokens.csv")),
                           sdk_config=SDKConfig(auto_refresh_fields=True, pick_list_validation=False),
                           resource_path=str(tmp_path),
                           logger=Logger.get_instance(Logger.Levels.INFO, str(tmp_path / "sdk.log")))
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
