"""Finding 4 of the security issue, "no input answers 500", kept as tests.

Each input an outside attack sent and got a 500 for (or a wrong answer) must now get a 400, or a
404 for a path, in the error shape of docs/api.md §1. The HTTP cases run in process; the streams'
resume positions run against a real server process with real SSE and WebSocket clients.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
import referencing
import referencing.jsonschema

from tests.realtime.clients import SseStream, ws_connect, ws_json, ws_subscribe
from tests.realtime.server import ServerProcess
from tests.support import OPERATOR_KEY, auth, create_user, multipart

NUL = "\u0000"
INT64_MAX = 2**63 - 1


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is `status` in the error shape of docs/api.md §1; its `error` object."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert isinstance(error["id"], str) and isinstance(error["message"], str), error
    return error


def nested(depth: int) -> dict[str, Any]:
    """An object nesting `depth` objects (itself included): {"a": {"a": ... {}}}."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.fixture
async def world(client: httpx.AsyncClient, session: str) -> dict[str, str]:
    """A channel `work` with a folder `projects` and one event; their ids and the session."""
    headers = auth(session)
    r = await client.post("/channels", json={"id": "work", "name": "Work"}, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post("/work/folders", json={"id": "projects", "name": "Projects"},
                          headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post("/work/events", json={"folderId": "projects", "comment": "x"},
                          headers=headers)
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    r = await client.get("/user-activity", headers=headers)
    return {"session": session, "event": event, "entry": r.json()[0]["id"]}


# --- NUL characters in JSON strings --------------------------------------------------------

NUL_BODIES = {
    "channel name": ("POST", "/channels", {"name": f"a{NUL}b"}),
    "channel clientData value": ("POST", "/channels", {"name": "C", "clientData": {"k": NUL}}),
    "channel clientData key": ("POST", "/channels", {"name": "C", "clientData": {NUL: 1}}),
    "channel update clientData key": ("PUT", "/channels/work", {"clientData": {f"k{NUL}": 1}}),
    "channel update nested key": ("PUT", "/channels/work",
                                  {"clientData": {"a": [{"b": {f"c{NUL}": True}}]}}),
    "folder clientData key": ("POST", "/work/folders",
                              {"name": "F", "clientData": {NUL: "x"}}),
    "folder update clientData value": ("PUT", "/work/folders/projects",
                                       {"clientData": {"k": [f"{NUL}"]}}),
    "event comment": ("POST", "/work/events", {"comment": f"a{NUL}"}),
    "event tags": ("POST", "/work/events", {"tags": [f"t{NUL}"]}),
    "event clientData key": ("POST", "/work/events", {"clientData": {f"{NUL}k": 1}}),
    "event start clientData": ("POST", "/work/events/start", {"clientData": {NUL: NUL}}),
    "event update clientData key": ("PUT", "/work/events/{event}", {"clientData": {NUL: 1}}),
    "batch item clientData": ("POST", "/work/events/batch", {"events": [
        {"clientId": "c1", "time": 1_700_000_000, "clientData": {f"k{NUL}": 1}}]}),
    "token name": ("POST", "/tokens", {"name": f"phone{NUL}", "permissions": []}),
    "feed text": ("PUT", "/user-activity/{entry}", {"text": f"a{NUL}"}),
    "AISquare text": ("PUT", "/compat/aisquare/api/v1/activity/{entry}/", {"text": f"a{NUL}"}),
    "AISquare field named error": ("PUT", "/compat/aisquare/api/v1/activity/{entry}/",
                                   {"text": "t", "error": NUL, "detail": NUL}),
    "Pieces update": ("POST", "/compat/pieces/activity/update", {"id": "{entry}", "x": NUL}),
}


@pytest.mark.parametrize("case", NUL_BODIES, ids=list(NUL_BODIES))
async def test_nul_in_any_json_string_is_400(client, world, case) -> None:
    method, path, body = NUL_BODIES[case]
    body = orjson.loads(orjson.dumps(body).replace(b"{entry}", world["entry"].encode()))
    r = await client.request(method, path.format(**world), json=body,
                             headers=auth(world["session"]))
    assert_error(r, 400)


async def test_nul_in_the_event_part_of_an_upload_is_400(client, world) -> None:
    event = orjson.dumps({"comment": "c", "clientData": {f"k{NUL}": 1}})
    content, headers = multipart([(b"event", None, event, b"application/json"),
                                  (b"file", b"a.txt", b"hello", b"text/plain")])
    r = await client.post("/work/events", content=content,
                          headers={**headers, **auth(world["session"])})
    assert_error(r, 400)


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(client, world) -> None:
    """`\\\\u0000` in JSON is a backslash and the text `u0000`: accepted as such."""
    raw = b'{"name": "C", "clientData": {"k": "a\\\\u0000"}}'
    r = await client.post("/channels", content=raw, headers={
        "Content-Type": "application/json", **auth(world["session"])})
    assert r.status_code == 201, r.text


# --- nesting depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [255, 256, 600, 1024])
async def test_client_data_nested_too_deep_is_400(client, world, depth) -> None:
    for method, path in (("POST", "/channels"), ("PUT", "/channels/work"),
                         ("POST", "/work/events"), ("PUT", "/work/folders/projects")):
        body = {"clientData": nested(depth)}
        if path == "/channels":
            body["name"] = "Deep"
        r = await client.request(method, path, content=_deep_json(body, depth),
                                 headers={"Content-Type": "application/json",
                                          **auth(world["session"])})
        error = assert_error(r, 400)
        assert "64" in error["message"], error


async def test_client_data_within_the_depth_limit_is_kept(client, world) -> None:
    data = nested(60)
    r = await client.put("/channels/work", json={"clientData": {"deep": data}},
                         headers=auth(world["session"]))
    assert r.status_code == 200, r.text
    assert r.json()["clientData"]["deep"] == data


def _deep_json(body: dict[str, Any], depth: int) -> bytes:
    """`body` as JSON, its `clientData` written by hand (orjson writes at most 255 levels)."""
    inner = b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)
    rest = orjson.dumps({k: v for k, v in body.items() if k != "clientData"})
    return rest[:-1] + (b"," if len(rest) > 2 else b"") + b'"clientData":' + inner + b"}"


# --- NUL bytes in paths and query strings ----------------------------------------------------


@pytest.mark.parametrize("path", [
    "/work/events/a%00b", "/wo%00rk/events", "/tokens/a%00b", "/work/folders/p%00",
    "/work/events/{event}/f%00.txt", "/user-activity/1%00", "/activities/a%00",
    "/compat/pieces/activity/1%00", "/compat/aisquare/api/v1/activity/1%00/",
])
async def test_nul_in_a_path_segment_is_404(client, world, path) -> None:
    for method in ("GET", "PUT", "DELETE", "POST"):
        r = await client.request(method, path.format(**world), headers=auth(world["session"]),
                                 json={})
        assert_error(r, 404)


@pytest.mark.parametrize("path", ["/work/events", "/channels", "/user-activity",
                                  "/work/events/start", "/activities"])
async def test_nul_in_a_query_string_is_400(client, world, path) -> None:
    r = await client.get(path + "?tags=a%00&folderId=x%00&before=1%00&type=a%00",
                         headers=auth(world["session"]))
    assert_error(r, 400)


# --- digits are ASCII [0-9] only -------------------------------------------------------------


async def test_non_ascii_digits_are_no_feed_entry_id(client, world) -> None:
    headers = auth(world["session"])
    for path in ("/user-activity/%C2%B3", "/user-activity/%C2%B2",
                 "/compat/aisquare/api/v1/activity/%C2%B3/"):
        assert_error(await client.get(path, headers=headers), 404)
    r = await client.get("/compat/pieces/activity/%C2%B3", headers=headers)
    assert_error(r, 410)  # Pieces answers unknown activities with 410
    r = await client.post("/compat/pieces/activity/update", json={"id": "\u00b3"},
                          headers=headers)
    assert_error(r, 410)
    # An Arabic-Indic digit is a digit to Python's int(): it must not name that entry.
    entries = (await client.get("/user-activity", headers=headers)).json()
    digit = next(e["id"] for e in entries if len(e["id"]) == 1)
    arabic = chr(0x0660 + int(digit))
    assert (await client.get(f"/user-activity/{digit}", headers=headers)).status_code == 200
    for path in (f"/user-activity/{arabic}", f"/compat/aisquare/api/v1/activity/{arabic}/"):
        assert_error(await client.get(path, headers=headers), 404)
    assert_error(await client.get(f"/compat/pieces/activity/{arabic}", headers=headers), 410)
    assert_error(await client.put(f"/user-activity/{arabic}", json={"text": "x"},
                                  headers=headers), 404)


async def test_non_ascii_digits_are_no_number_in_a_query(client, world) -> None:
    headers = auth(world["session"])
    for path, params in (
        ("/user-activity", {"limit": "\u0663"}),
        ("/user-activity", {"before": "\u00b3"}),
        ("/work/events", {"limit": "\u0663"}),
        ("/work/events", {"fromTime": "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660"}),
        ("/compat/acronis/api/task_manager/v2/activities", {"limit": "\u00b3"}),
        ("/compat/acronis/api/task_manager/v2/activities", {"limit": "\u0663"}),
        ("/compat/acronis/api/task_manager/v2/activities", {"createdAt": "gt(\u0663)"}),
        ("/compat/acronis/api/task_manager/v2/activities", {"createdAt": "gt(\u00b3ns)"}),
    ):
        assert_error(await client.get(path, params=params, headers=headers), 400)


async def test_non_ascii_digits_are_no_activity_id(client, world) -> None:
    r = await client.get("/activities/" + "\u0663" * 32, headers=auth(world["session"]))
    assert_error(r, 404)
    r = await client.get("/activities", params={"before": "\u0663" * 32},
                         headers=auth(world["session"]))
    assert_error(r, 400)


# --- forged Acronis page cursors -------------------------------------------------------------


@pytest.mark.parametrize("key", [
    ["abc", "00000000-0000-0000-0000-000000000001"],
    [None, "00000000-0000-0000-0000-000000000001"],
    ["NaN", "00000000-0000-0000-0000-000000000001"],
    [1e308, "\u0663" * 32],
    [True, "00000000-0000-0000-0000-000000000001"],
    [1.5, 7],
    [[1], {"a": 1}],
])
async def test_a_forged_acronis_cursor_is_400(client, world, key) -> None:
    token = base64.urlsafe_b64encode(orjson.dumps({"q": {}, "k": key})).decode().rstrip("=")
    r = await client.get("/compat/acronis/api/task_manager/v2/activities",
                         params={"after": token}, headers=auth(world["session"]))
    assert_error(r, 400)


@pytest.mark.parametrize("query", [{"state": "x"}, {"limit": ["1"]}, {"order": [1]},
                                   {"createdAt": ["gt(99999999999999999999999)"]},
                                   {"completedAt": ["9" * 400 + "ns"]}])
async def test_a_forged_acronis_cursor_query_is_400(client, world, query) -> None:
    key = [1.0, "00000000-0000-0000-0000-000000000001"]
    token = base64.urlsafe_b64encode(orjson.dumps({"q": query, "k": key})).decode()
    r = await client.get("/compat/acronis/api/task_manager/v2/activities",
                         params={"after": token}, headers=auth(world["session"]))
    assert_error(r, 400)


# --- identities match the whole string -------------------------------------------------------


@pytest.mark.parametrize("given", ["work\n", "work\r\n", "\nwork", "wo\nrk"])
async def test_an_identity_with_a_newline_is_400(client, session, given) -> None:
    r = await client.post("/channels", json={"id": given, "name": "Work"},
                          headers=auth(session))
    assert_error(r, 400)
    r = await client.post("/channels", json={"id": "ok", "name": "Ok"}, headers=auth(session))
    r = await client.post("/ok/folders", json={"id": given, "name": "F"}, headers=auth(session))
    assert_error(r, 400)


# --- 405, CORS -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "methods"), [
    ("/channels/work", {"PUT", "DELETE"}),
    ("/channels", {"GET", "HEAD", "POST"}),
    ("/tokens/x", {"GET", "HEAD", "PUT", "DELETE"}),
    ("/work/folders/projects", {"GET", "HEAD", "POST", "PUT", "DELETE"}),
    ("/work/events/start", {"GET", "HEAD", "POST", "PUT", "DELETE"}),
    ("/user-activity/1", {"GET", "HEAD", "PUT", "DELETE"}),
    ("/compat/aisquare/api/v1/activity/1/", {"GET", "HEAD", "PUT"}),
])
async def test_a_405_lists_every_method_of_the_path(client, session, path, methods) -> None:
    r = await client.request("PATCH", path, headers=auth(session))
    error = assert_error(r, 405)
    assert error["id"] == "METHOD_NOT_ALLOWED"
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert allowed == methods, r.headers["allow"]


async def test_retry_after_is_exposed_to_browsers(client, make_client) -> None:
    """A script of another origin must be able to read `Retry-After` (429, 503, 202), on the
    answers of the CORS middleware and on those the outermost layer makes itself (413)."""
    small = await make_client(max_body_bytes=10)
    for r in (await client.get("/channels", headers={"Origin": "https://app.example"}),
              await small.post("/channels", json={"name": "x" * 100},
                               headers={"Origin": "https://app.example"})):
        exposed = r.headers["access-control-expose-headers"].lower().replace(" ", "").split(",")
        assert "retry-after" in exposed, (r.status_code, r.headers)


# --- compat error bodies match the schemas /openapi.json declares ----------------------------


def _response_schema(document: dict[str, Any], method: str, path: str, status: int
                     ) -> tuple[dict[str, Any], referencing.Registry]:
    operation = document["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    schema = next(iter(response["content"].values()))["schema"]
    resource = referencing.jsonschema.DRAFT202012.create_resource(document)
    return schema, referencing.Registry().with_resource("urn:openapi", resource)


def assert_matches_declared(document: dict[str, Any], method: str, path: str,
                            response: httpx.Response) -> None:
    schema, registry = _response_schema(document, method, path, response.status_code)
    schema = json.loads(json.dumps(schema).replace('"#/', '"urn:openapi#/'))
    jsonschema.Draft202012Validator(schema, registry=registry).validate(response.json())


async def test_compat_error_bodies_match_their_declared_schemas(client, world) -> None:
    document = (await client.get("/openapi.json")).json()
    headers = auth(world["session"])
    cases = [
        ("DELETE", "/compat/plex/activities/{activity}",
         "/compat/plex/activities/00000000-0000-0000-0000-000000000001", headers),
        ("DELETE", "/compat/plex/activities/{activity}",
         "/compat/plex/activities/00000000-0000-0000-0000-000000000001", {}),
        ("GET", "/compat/plex/activities", "/compat/plex/activities", {}),
        ("GET", "/compat/aisquare/api/v1/activity/{entry}/",
         "/compat/aisquare/api/v1/activity/999999/", headers),
        ("GET", "/compat/aisquare/api/v1/activity/{entry}/",
         "/compat/aisquare/api/v1/activity/1/", {}),
        ("PUT", "/compat/aisquare/api/v1/activity/{entry}/",
         "/compat/aisquare/api/v1/activity/1/", headers),
        ("GET", "/compat/pieces/activity/{activity}", "/compat/pieces/activity/999999", headers),
        ("GET", "/compat/acronis/api/task_manager/v2/activities",
         "/compat/acronis/api/task_manager/v2/activities?limit=0", headers),
    ]
    for method, declared, path, given in cases:
        body = {"text": ""} if method == "PUT" else None
        r = await client.request(method, path, headers=given, json=body)
        assert r.status_code >= 400, (path, r.text)
        assert_matches_declared(document, method, declared, r)


# --- resume positions of the streams ---------------------------------------------------------


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, OPERATOR_KEY, ACTIVITY_LOG_LEVEL="info").wait_ready()
    yield process
    process.stop()


@pytest.fixture
async def rest(live: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        yield client


async def _head(rest: httpx.AsyncClient, session: str) -> str:
    """A resume position at the log's head: the id of the change a fresh channel makes."""
    async with SseStream(rest, "/stream", headers=auth(session)) as stream:
        assert stream.status == 200
        r = await rest.post("/channels", json={"name": "Head"}, headers=auth(session))
        assert r.status_code == 201, r.text
        frame = await stream.change()
    assert frame.id is not None
    return frame.id


def _past(position: str) -> list[str]:
    """Resume positions no stream ever sent: past int64, or beyond the log's head."""
    tx, pos = (int(part) for part in position.split("."))
    return [
        f"{INT64_MAX + 1}.1", f"1.{INT64_MAX + 1}", "9" * 20 + "." + "9" * 20,
        f"{tx}.{pos + 1000}", f"{tx + 1000}.{pos}", "\u0663.\u0663",
    ]


async def test_a_last_event_id_past_int64_or_the_head_is_400(live, rest) -> None:
    session = await create_user(rest, "alice")
    head = await _head(rest, session)
    for position in _past(head):
        for headers, params in (({"Last-Event-ID": position.encode()}, None),
                                ({}, {"lastEventId": position})):
            async with SseStream(rest, "/stream", headers={**headers, **auth(session)},
                                 params=params) as stream:
                assert stream.response is not None
                assert stream.status == 400, (position, stream.status)  # not a stream
                await stream.response.aread()
                assert_error(stream.response, 400)
    # The head itself still resumes.
    async with SseStream(rest, "/stream", headers={"Last-Event-ID": head, **auth(session)}
                         ) as stream:
        assert stream.status == 200
    assert "unexpected error" not in live.log().lower()
    assert "traceback" not in live.log().lower()


async def test_a_ws_since_past_int64_or_the_head_refuses_only_that_subscription(live, rest
                                                                                ) -> None:
    session = await create_user(rest, "alice")
    head = await _head(rest, session)
    ws = await ws_connect(live.ws_url + "/ws", session)
    try:
        await ws_subscribe(ws, subscription="keep")
        for n, position in enumerate(_past(head)):
            await ws.send(json.dumps({"op": "subscribe", "subscription": f"bad{n}",
                                      "since": position}))
            answer = await ws_json(ws)
            assert answer["op"] == "error", answer
            assert answer["subscription"] == f"bad{n}"
            assert answer["error"]["id"] == "INVALID_PARAMETERS_FORMAT", answer
        # The socket and its other subscription live on.
        r = await rest.post("/channels", json={"name": "After"}, headers=auth(session))
        assert r.status_code == 201
        change = await ws_json(ws)
        assert change["subscription"] == "keep", change
        await ws.send(json.dumps({"op": "ping"}))
        assert (await ws_json(ws))["op"] == "pong"
    finally:
        await ws.close()
    assert "traceback" not in live.log().lower()
