"""The Zoho CRM client: pure parts (classify, URLs, DC map) here; end-to-end over real HTTP against
the CRM sandbox below."""
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from widget.clients import crm
from widget.clients.http import (AuthenticationError, InvalidRequest, NotFound, PermissionDenied, RateLimited,
                                 ServerError)


def response(status, body=None, text=None):
    """A `requests.Response` as the CRM would send it (for the pure classify tests)."""
    built = requests.Response()
    built.status_code = status
    built._content = (json.dumps(body) if body is not None else (text or "")).encode()
    built.headers["Content-Type"] = "application/json;charset=UTF-8"
    return built


def envelope(code, message="m", **details):
    return {"code": code, "details": details, "message": message, "status": "error"}


# ---- classify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, error_type, code", [
    (401, envelope("INVALID_TOKEN", "invalid oauth token"), AuthenticationError, "INVALID_TOKEN"),
    (401, envelope("AUTHENTICATION_FAILURE"), AuthenticationError, "AUTHENTICATION_FAILURE"),
    (401, envelope("OAUTH_SCOPE_MISMATCH"), PermissionDenied, "OAUTH_SCOPE_MISMATCH"),
    (403, envelope("NO_PERMISSION"), PermissionDenied, "NO_PERMISSION"),
    (429, envelope("TOO_MANY_REQUESTS", limit_type="concurrency"), RateLimited, "TOO_MANY_REQUESTS"),
    (404, envelope("INVALID_URL_PATTERN"), NotFound, "INVALID_URL_PATTERN"),
    (400, envelope("MANDATORY_NOT_FOUND", api_name="Last_Name"), InvalidRequest, "MANDATORY_NOT_FOUND"),
    (400, envelope("DUPLICATE_DATA", api_name="Email"), InvalidRequest, "DUPLICATE_DATA"),
    (500, envelope("INTERNAL_ERROR"), ServerError, "INTERNAL_ERROR"),
    (502, None, ServerError, None),
])
def test_classify_maps_envelopes_to_typed_errors(status, body, error_type, code):
    error = crm.classify(response(status, body, text="<html>bad gateway</html>"))
    assert type(error) is error_type
    assert error.code == code and error.status == status


def test_classify_keeps_details_of_invalid_data():
    error = crm.classify(response(400, envelope("INVALID_DATA", "invalid data", api_name="Phone",
                                                expected_data_type="phone")))
    assert isinstance(error, InvalidRequest)
    assert error.details == {"api_name": "Phone", "expected_data_type": "phone"}


def test_classify_lets_through_successes_and_batches_whose_records_all_failed():
    assert crm.classify(response(200, {"data": []})) is None
    assert crm.classify(response(204)) is None
    assert crm.classify(response(207, {"data": [{"status": "success"}, {"status": "error"}]})) is None
    all_failed = {"data": [{"code": "MANDATORY_NOT_FOUND", "details": {}, "message": "m", "status": "error"}]}
    assert crm.classify(response(400, all_failed)) is None


def test_token_errors_arrive_as_http_200():
    error = crm.classify_token_response(response(200, {"error": "invalid_code"}))
    assert isinstance(error, AuthenticationError) and error.code == "invalid_code"
    throttled = crm.classify_token_response(response(200, {"error": "Access Denied",
                                                           "error_description": "too many requests"}))
    assert isinstance(throttled, RateLimited)
    assert crm.classify_token_response(response(200, {"access_token": "a", "expires_in": 3600})) is None


# ---- URLs and data centres ------------------------------------------------------------------------

def test_authorization_url_asks_for_offline_access_with_consent_on_the_dc_accounts_server():
    url = crm.authorization_url(crm.DATA_CENTRES["jp"].accounts_server, "client-1", "https://x.example/cb",
                                ["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL"], state="s1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.zoho.jp/oauth/v2/auth"
    assert parse_qs(parts.query) == {
        "scope": ["ZohoCRM.modules.ALL,ZohoCRM.settings.ALL"], "client_id": ["client-1"], "response_type": ["code"],
        "access_type": ["offline"], "prompt": ["consent"], "redirect_uri": ["https://x.example/cb"], "state": ["s1"]}


def test_production_data_centres():
    assert set(crm.DATA_CENTRES) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa"}
    assert crm.DATA_CENTRES["ca"] == crm.DataCentre("https://accounts.zohocloud.ca", "https://www.zohoapis.ca")
    assert crm.DATA_CENTRES["us"].api_domain == "https://www.zohoapis.com"


def test_sandbox_data_centres_share_one_origin():
    centres = crm.data_centres("http://127.0.0.1:5002/")
    assert centres["jp"] == crm.DataCentre("http://127.0.0.1:5002/accounts/jp", "http://127.0.0.1:5002/api/jp")
    assert crm.data_centres("") is crm.DATA_CENTRES


def test_an_unknown_accounts_server_never_gets_the_client_secret():
    assert crm.known_accounts_server("https://accounts.zoho.in/") == "in"
    with pytest.raises(InvalidRequest):
        crm.known_accounts_server("https://accounts.evil.example")
