"""One paginator for every list endpoint: cursor mode when `page[size]` is sent, offset mode otherwise.

Rules (docs/outside-apis.md#zendesk-pagination):
- cursor: `page[size]` (max 100), `page[after]` / `page[before]`; the answer carries
  `meta{has_more, after_cursor, before_cursor}` and `links{next, prev}` as absolute URLs. Cursors are
  opaque base64 JSON like the real `{"o":"nice_id","v":"aQEAAAAAAAAA"}`.
- offset: `page`, `per_page` (max 100); `next_page` / `previous_page` absolute URLs and `count`.
  Offset requests beyond the first 10,000 records answer 400 `InvalidPaginationDepth`.
"""
import base64
import binascii
import bisect
import json
import struct
from urllib.parse import urlencode

from flask import request

from .http import ApiError, api_url

MAX_PAGE_SIZE = 100
OFFSET_RECORD_LIMIT = 10_000

# NB: the real body, as quoted by tap-zendesk users (transferwise/pipelinewise#1183) and the
# airbyte source (airbytehq/airbyte#38595) for GET ...?page=101&per_page=100.
PAGINATION_DEPTH_ERROR = {"errors": [{
    "code": "InvalidPaginationDepth",
    "title": "Pagination requests using Offset Pagination are limited to page 100 or up to 10000 records "
             "(page * per_page)",
    "detail": "There are limits to the page depth in Offset Pagination. Offset Pagination will be deprecated "
              "fully in the near future.\nPlease switch to Cursor Pagination at the earliest. Cursor Pagination "
              "does not have any limits.\nSee https://developer.zendesk.com/documentation/api-basics/pagination/"
              "comparing-cursor-pagination-and-offset-pagination\n",
}]}
# NB: the real text for a malformed cursor is not published (docs/outside-apis.md#zendesk-open-points); this mirrors the
# typed `errors` envelope Zendesk uses for the other pagination refusals.
INVALID_CURSOR_ERROR = {"errors": [{"code": "InvalidPaginationParameter", "title": "Invalid cursor",
                                    "detail": "page[after] and page[before] must be cursors from a previous page"}]}


def _int_arg(name, default):
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def encode_cursor(order, key):
    """Integer keys pack like the real cursor ("i" + little-endian int64); composite keys as JSON."""
    if isinstance(key, int):
        value = b"i" + struct.pack("<q", key)
    else:
        value = b"j" + json.dumps(list(key), separators=(",", ":")).encode()
    inner = {"o": order, "v": base64.b64encode(value).decode()}
    return base64.b64encode(json.dumps(inner, separators=(",", ":")).encode()).decode()


def decode_cursor(order, cursor):
    try:
        inner = json.loads(base64.b64decode(cursor, validate=True))
        value = base64.b64decode(inner["v"], validate=True)
        if inner["o"] != order:
            raise ValueError("cursor of another list")
        if value[:1] == b"i" and len(value) == 9:
            return struct.unpack("<q", value[1:])[0]
        if value[:1] == b"j":
            return tuple(json.loads(value[1:]))
    except (binascii.Error, ValueError, KeyError, TypeError, struct.error):
        pass
    raise ApiError(400, INVALID_CURSOR_ERROR)


def _url(params):
    """This request's URL (with `.json`, as real links have) with `params` replacing the paging ones."""
    kept = [(k, v) for k, v in request.args.items(multi=True)
            if k not in params and not k.startswith("page[") and k != "page"]
    query = urlencode(kept + [(k, v) for k, v in params.items() if v is not None])
    return f"{api_url(request.path[len('/api/v2/'):])}.json?{query}"


def is_cursor_request():
    return "page[size]" in request.args or "page[after]" in request.args or "page[before]" in request.args


def paginate(envelope, records, render, order="id", key=lambda record: record["id"], allow_cursor=True,
             record_limit=OFFSET_RECORD_LIMIT, limit_error=None):
    """Answer a list request for `records` (already in list order; `key` strictly increasing along it).

    Returns the JSON payload: `{envelope: [...], meta, links}` or `{envelope: [...], next_page,
    previous_page, count}`.
    """
    if allow_cursor and is_cursor_request():
        return cursor_page(envelope, records, render, order, key)
    page, per_page = offset_params(record_limit, limit_error)
    start = (page - 1) * per_page
    chunk = records[start:start + per_page]
    return {
        envelope: [render(record) for record in chunk],
        "next_page": _url({"page": page + 1, "per_page": request.args.get("per_page")})
        if start + per_page < len(records) else None,
        "previous_page": _url({"page": page - 1, "per_page": request.args.get("per_page")}) if page > 1 else None,
        "count": len(records),
    }


def offset_params(record_limit=OFFSET_RECORD_LIMIT, limit_error=None):
    """`page` and `per_page` (capped at 100); ApiError when the page reaches past `record_limit`."""
    page = max(_int_arg("page", 1), 1)
    per_page = min(max(_int_arg("per_page", MAX_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    if page * per_page > record_limit:
        raise limit_error or ApiError(400, PAGINATION_DEPTH_ERROR)
    return page, per_page


def cursor_page(envelope, records, render, order, key):
    # NB: "Most endpoints limit this to a maximum of 100" (docs/outside-apis.md#zendesk-pagination); larger sizes are
    # capped.
    size = min(max(_int_arg("page[size]", MAX_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    keys = [key(record) for record in records]
    after, before = request.args.get("page[after]"), request.args.get("page[before]")
    if before:
        end = bisect.bisect_left(keys, decode_cursor(order, before))
        start = max(end - size, 0)
        has_more = start > 0
    else:
        start = bisect.bisect_right(keys, decode_cursor(order, after)) if after else 0
        end = min(start + size, len(records))
        has_more = end < len(records)
    chunk = records[start:end]
    after_cursor = encode_cursor(order, keys[end - 1]) if chunk else None
    before_cursor = encode_cursor(order, keys[start]) if chunk else None
    return {
        envelope: [render(record) for record in chunk],
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
        "links": {
            "prev": _url({"page[before]": before_cursor, "page[size]": size}) if before_cursor else None,
            "next": _url({"page[after]": after_cursor, "page[size]": size}) if after_cursor else None,
        },
    }
