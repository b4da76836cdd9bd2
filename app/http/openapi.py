"""The OpenAPI 3.1 document of the whole HTTP API, served at `GET /openapi.json`.

Written beside the code, route by route: each operation names its parameters, its body and its
answers, and every error answers with the one error shape of docs/api.md §1. The request bodies
declared as types (app/domain/body_types.py: those of accounts, channels and tokens) give their
schemas from the same declaration their handler reads them with; the others are still written
here by hand.
`tests/unit/test_openapi.py` checks that the document and the application's router hold the same
routes, so a route added without its description (or the reverse) fails the suite.

Bodies are described strictly (`additionalProperties: false`) because the handlers refuse
unknown keys: the document is what `schemathesis` generates requests from.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute

from app.edge.responses import JSONResponse, json
from app.http import accounts, channels, feed, folders, tokens

Schema = dict[str, Any]

# --- shared schemas ----------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | None = None, strict: bool = True, **props: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if strict:
        schema["additionalProperties"] = False
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


IDENTITY: Schema = {"type": "string", "pattern": "^[a-zA-Z0-9._-]{1,100}$"}
TIME: Schema = {"type": "number", "description": "seconds since the Unix epoch",
                "minimum": -2_208_988_800, "maximum": 16_725_225_600}
TEXT: Schema = {"type": "string", "maxLength": 10_000}
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
CLIENT_DATA: Schema = {"type": "object", "description": "free JSON object, merged on update"}
LEVEL: Schema = {"type": "string", "enum": ["read-only", "events-write", "manage"]}

ERROR_OBJECT = obj(
    ["id", "message"],
    strict=False,
    id={"type": "string", "pattern": "^[A-Z_]+$"},
    message={"type": "string"},
    data={},
    subErrors=array(obj(["id", "message"], strict=False, id={"type": "string"},
                        message={"type": "string"}, data={"type": "object"})),
)

SCHEMAS: dict[str, Schema] = {
    "Error": obj(["error"], error=ERROR_OBJECT),
    # The dialects answer the native error with their clients' own keys beside it (not on the
    # answers made before routing: 405, 413, 503).
    "PlexError": obj(
        ["error"],
        error=ERROR_OBJECT,
        errors=array(obj(["code", "message", "status"], code={"type": "integer"},
                         message={"type": "string"}, status={"type": "integer"})),
    ),
    "AISquareError": {
        **obj(["error"], strict=False, error=ERROR_OBJECT, detail={"type": "string"}),
        "description": "Django REST framework's keys: `detail`, or the messages of each "
                       "offending field under its name",
        "additionalProperties": array({"type": "string"}),
    },
    "Created": obj(["id"], strict=False, id={"type": "string"},
                   stoppedId=nullable({"type": "string"})),
    "Channel": obj(
        ["id", "name", "enforceNoEventsOverlap", "clientData", "trashed", "created", "modified"],
        strict=False,
        id=IDENTITY, name=NAME, enforceNoEventsOverlap={"type": "boolean"},
        clientData=CLIENT_DATA, timeCount={"type": "number"}, trashed={"type": "boolean"},
        created=TIME, modified=TIME,
    ),
    "Folder": obj(
        ["id", "channelId", "name", "parentId", "hidden", "clientData", "children", "trashed",
         "created", "modified"],
        strict=False,
        id=IDENTITY, channelId=IDENTITY, name=NAME, parentId=nullable(IDENTITY),
        hidden={"type": "boolean"}, clientData=CLIENT_DATA, timeCount={"type": "number"},
        children=array(ref("Folder")), trashed={"type": "boolean"}, created=TIME,
        modified=TIME,
    ),
    "Value": obj(["type", "value"], type={"type": "string", "pattern": "^[^:]+:[^:]+$",
                                           "maxLength": 200},
                 value={"type": ["boolean", "number", "string", "null"]}),
    "Attachment": obj(["fileName", "type", "size"], strict=False, fileName={"type": "string"},
                      type={"type": "string"}, size={"type": "integer"},
                      sha256={"type": "string"}),
    "Event": obj(
        ["id", "channelId", "time", "folderId", "tags", "clientData", "attachments", "trashed",
         "modified"],
        strict=False,
        id=IDENTITY, channelId=IDENTITY, time=TIME,
        duration={"description": "absent: a mark; null: running; > 0: a period",
                  "type": ["number", "null"]},
        folderId=nullable(IDENTITY), value=ref("Value"), comment=TEXT,
        tags=array({"type": "string"}), clientId={"type": "string"}, clientData=CLIENT_DATA,
        attachments={"type": "object", "additionalProperties": ref("Attachment")},
        trashed={"type": "boolean"}, modified=TIME,
    ),
    "FolderPermission": obj(["folderId", "type"], folderId=nullable(IDENTITY), type=LEVEL),
    "Permission": obj(["channelId", "folderPermissions"], channelId=IDENTITY,
                      folderPermissions=array(ref("FolderPermission"))),
    "Token": obj(
        ["id", "token", "name", "type", "permissions", "created"],
        strict=False,
        id={"type": "string"}, token={"type": "string"}, name=NAME,
        type={"type": "string", "enum": ["personal", "shared"]},
        permissions=array(ref("Permission")), created=TIME, modified=TIME, lastUsed=TIME,
    ),
    "UserInfo": obj(["userName"], strict=False, userName={"type": "string"},
                    email=nullable({"type": "string"}), displayName=nullable({"type": "string"}),
                    language=nullable({"type": "string"})),
    "Activity": obj(
        ["id", "type", "state"],
        strict=False,
        id={"type": "string", "format": "uuid"}, type={"type": "string"},
        state={"type": "string", "enum": ["pending", "running", "cancelling", "completed",
                                          "failed", "cancelled"]},
        cancellable={"type": "boolean"}, cancelRequested={"type": "boolean"},
        title={"type": "string"}, subtitle={"type": ["string", "null"]},
        progress={"type": ["object", "null"]}, context={"type": ["object", "null"]},
        result={"type": ["object", "null"]}, error={"type": ["object", "null"]},
        startedBy={"type": ["object", "null"]}, createdAt=TIME,
        startedAt=nullable(TIME), updatedAt=nullable(TIME), completedAt=nullable(TIME),
    ),
    "UserActivityEntry": obj(
        ["id", "type", "code", "text", "createdAt", "isActive"],
        strict=False,
        id={"type": "string"}, type={"type": "string"}, code={"type": "integer"},
        text={"type": "string"}, resource={"type": ["object", "null"]},
        activityId=nullable({"type": "string"}), createdAt=TIME, updatedAt=nullable(TIME),
        deletedAt=nullable(TIME), isActive={"type": "boolean"},
        createdBy={"type": ["object", "null"]}, updatedBy={"type": ["object", "null"]},
        deletedBy={"type": ["object", "null"]},
    ),
}

# The bodies a client sends (strict: unknown keys are refused with 400).
EVENT_FIELDS: dict[str, Schema] = {
    "time": TIME,
    "duration": {"type": ["number", "null"], "exclusiveMinimum": 0},
    "folderId": nullable(IDENTITY),
    "value": ref("Value"),
    "comment": TEXT,
    "tags": array({"type": "string", "maxLength": 1000}),
    "clientId": {"type": "string", "minLength": 1, "maxLength": 255},
    "clientData": CLIENT_DATA,
}
BATCH_EVENT = obj(["clientId"], **{k: v for k, v in EVENT_FIELDS.items()})

# --- operations ----------------------------------------------------------------------------------

ERROR_RESPONSE = {"description": "an error (docs/api.md §1)",
                  "content": {"application/json": {"schema": ref("Error")}}}
# Answered by the router and the outermost middleware, in the native error shape on any path.
BEFORE_ROUTES = {"405", "413", "500", "503"}
COMMON_ERRORS = {
    "400": ERROR_RESPONSE, "401": ERROR_RESPONSE, "403": ERROR_RESPONSE, "404": ERROR_RESPONSE,
    "405": ERROR_RESPONSE, "413": ERROR_RESPONSE, "429": ERROR_RESPONSE, "503": ERROR_RESPONSE,
}

THROTTLED = {
    **ERROR_RESPONSE,
    "description": "too many failed logins for the user name or from the client address "
                   "(`TOO_MANY_REQUESTS`); nothing was checked",
    "headers": {"Retry-After": {"description": "seconds until the window closes",
                                "schema": {"type": "integer", "minimum": 1}}},
}


def body(schema: Schema, media: str = "application/json", required: bool = True) -> Schema:
    return {"required": required, "content": {media: {"schema": schema}}}


def ok(schema: Schema | None = None, status: str = "200", media: str = "application/json",
       description: str = "success") -> dict[str, Schema]:
    response: Schema = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    return {status: response}


def path_param(name: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def op(
    summary: str,
    *,
    tag: str,
    responses: dict[str, Schema],
    params: list[Schema] | None = None,
    request: Schema | None = None,
    auth: str | None = "credential",
    error: str = "Error",
) -> Schema:
    """An operation; the errors its route answers have the schema named `error` (a dialect's
    own), those answered before or around it (`BEFORE_ROUTES`) the native one."""
    error_response = {"description": f"an error (docs/api.md §1), as {error}",
                      "content": {"application/json": {"schema": ref(error)}}}
    operation: Schema = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            status: error_response if response is ERROR_RESPONSE and error != "Error"
            and status not in BEFORE_ROUTES else response
            for status, response in {**COMMON_ERRORS, **responses, "500": ERROR_RESPONSE}.items()
        },
    }
    if params:
        operation["parameters"] = params
    if request is not None:
        operation["requestBody"] = request
    operation["security"] = [{auth: []}] if auth else []
    return operation


CHANNEL = path_param("channel", IDENTITY)
FOLDER = path_param("folder", IDENTITY)
EVENT = path_param("event", IDENTITY)
FILE = path_param("fileName")
STATE = query("state", {"type": "string", "enum": ["default", "trashed", "all"]})
TIME_COUNT = query("timeCountBase", TIME, "add timeCount: tracked time from then on")
EMPTY = {"type": "object", "description": "an empty or acknowledging JSON object"}
MULTIPART = {"type": "object", "description": "a part `event` holding the event's JSON, "
                                              "every other part a file"}
FILES = {"type": "object", "description": "every part a file"}
SYNC = [
    {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "`wait=N` (seconds to wait for the end, default 10) or `respond-async` "
                    "(202 at once)"},
    {"name": "Idempotency-Key", "in": "header", "required": False,
     "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
     "description": "the same key from the same user within 24 h answers with the same "
                    "activity"},
]

EVENTS_QUERY = [
    query("onlyFolders", {"type": "string"}, "folder ids, comma-separated or repeated"),
    query("fromTime", TIME), query("toTime", TIME), STATE,
    query("sortAscending", {"type": "boolean"}),
    query("skip", {"type": "integer", "minimum": 0}),
    query("limit", {"type": "integer", "minimum": 0}),
    query("types", {"type": "string"}, "value types, `mass:*` matches every unit"),
    query("tags", {"type": "string"}), query("modifiedSince", TIME),
]
EVENT_QUERY_FORM = [
    query("time", TIME), query("folderId", IDENTITY), query("duration", {"type": "number"}),
    query("comment", TEXT), query("tags", {"type": "string"}),
]
ACTIVITY_LIST = [
    query("state", {"type": "string"}, "comma list of states"), query("type", {"type": "string"}),
    query("limit", {"type": "integer", "minimum": 1}), query("before", {"type": "string"}),
]
PLEX_FILTERS = query("filters", {"type": "string"},
                     "notification types: `activity,foo` only those, `-foo,bar` all but those, "
                     "empty all; default `-log`")
FEED_QUERY = [
    query("type", {"type": "string"}), query("fromTime", TIME), query("toTime", TIME),
    query("limit", {"type": "integer", "minimum": 1}), query("before", {"type": "string"}),
    query("includeDeleted", {"type": "boolean"}),
]

PATHS: dict[str, dict[str, Schema]] = {
    # -- service -----------------------------------------------------------------------------
    "/health": {"get": op("the process answers", tag="service", auth=None,
                          responses=ok({"type": "object"}))},
    "/ready": {"get": op("the process and its database answer", tag="service", auth=None,
                         responses=ok({"type": "object"}))},
    "/openapi.json": {"get": op("this document", tag="service", auth=None,
                                responses=ok({"type": "object"}))},
    "/": {"get": op("the web page", tag="service", auth=None,
                    params=[query("msg", {"type": "string"})],
                    responses=ok({"type": "string"}, media="text/html"))},
    "/static/{name}": {"get": op("a file of the web page (script, style sheet, icon)",
                                 tag="service", auth=None, params=[path_param("name")],
                                 responses=ok({"type": "string"}, media="text/plain"))},
    "/system/users": {"post": op(
        "create a user (operator key)", tag="system", auth="operator",
        request=body(obj(["userName", "password"], userName={"type": "string", "maxLength": 40},
                         password={"type": "string", "maxLength": 1024},
                         email=nullable({"type": "string"}), admin={"type": "boolean"})),
        responses=ok({"type": "object"}, "201"))},
    "/system/rebuild": {"post": op(
        "rebuild every read model from the log (operator key; an activity)", tag="system",
        auth="operator", params=SYNC,
        responses={**ok({"type": "object"}), **ok(ref("Activity"), "202"), "409": ERROR_RESPONSE})},
    # -- admin API (session) -------------------------------------------------------------------
    "/login": {"post": op(
        "open a session (ends after ACTIVITY_SESSION_IDLE_MINUTES unused, and at the latest "
        "ACTIVITY_SESSION_MAX_DAYS after the login)", tag="account", auth=None,
        request=body(accounts.Login.json_schema()),
        responses={**ok(obj(["sessionID"], strict=False, sessionID={"type": "string"})),
                   "429": THROTTLED})},
    "/logout": {"post": op("end the session", tag="account", responses=ok(EMPTY))},
    "/user-info": {
        "get": op("the account", tag="account", responses=ok(ref("UserInfo"))),
        "put": op("change email, displayName, language", tag="account",
                  request=body(accounts.ProfileChanges.json_schema()),
                  responses=ok(ref("UserInfo"))),
    },
    "/change-password": {"post": op(
        "change the password (ends the user's other sessions and their streams)", tag="account",
        request=body(accounts.PasswordChange.json_schema()),
        responses=ok(EMPTY))},
    "/channels": {
        "get": op("channels (a token: those it may access)", tag="channels",
                  params=[STATE, TIME_COUNT], responses=ok(array(ref("Channel")))),
        "post": op("create a channel (session)", tag="channels",
                   request=body(channels.NewChannel.json_schema()),
                   responses=ok(ref("Created"), "201")),
    },
    "/channels/{channel_id}": {
        "put": op("modify a channel (session)", tag="channels",
                  params=[path_param("channel_id", IDENTITY)],
                  request=body(channels.ChannelChanges.json_schema()),
                  responses=ok(ref("Channel"))),
        "delete": op("trash; if trashed, delete for good (an activity)", tag="channels",
                     params=[path_param("channel_id", IDENTITY), *SYNC],
                     responses={**ok(EMPTY), **ok(ref("Activity"), "202"), "409": ERROR_RESPONSE}),
    },
    "/tokens": {
        "get": op("the user's tokens (session)", tag="tokens", responses=ok(array(ref("Token")))),
        "post": op("get or create the token of that name (session)", tag="tokens",
                   request=body(tokens.NewToken.json_schema()),
                   responses={**ok(ref("Token")), **ok(ref("Token"), "201")}),
    },
    "/tokens/{key}": {
        "get": op("get or create the personal token of that client name (session)",
                  tag="tokens", params=[path_param("key")],
                  responses={**ok(ref("Token")), **ok(ref("Token"), "201")}),
        "put": op("modify a token (session)", tag="tokens", params=[path_param("key")],
                  request=body(tokens.TokenChanges.json_schema()),
                  responses=ok(ref("Token"))),
        "delete": op("revoke a token (session)", tag="tokens", params=[path_param("key")],
                     responses=ok(EMPTY)),
    },
    # -- activities and the feed ---------------------------------------------------------------
    "/activities": {"get": op("the activities the caller sees: the user's (a shared token: "
                              "those it started; an admin user's session: everyone's)",
                              tag="activities", params=ACTIVITY_LIST,
                              responses=ok(array(ref("Activity"))))},
    "/activities/{activity}": {
        "get": op("one activity (404 if the caller may not see it)", tag="activities",
                  params=[path_param("activity")], responses=ok(ref("Activity"))),
        "delete": op("request cancellation (404 if the caller may not see it)",
                     tag="activities", params=[path_param("activity")],
                     responses={**ok(ref("Activity")), "409": ERROR_RESPONSE}),
    },
    "/activities/{activity}/download": {"get": op(
        "the JSON-lines file of a completed export (its `result.payload.download`; 404 if "
        "the caller may not see the activity)",
        tag="activities", params=[path_param("activity")],
        responses=ok({"type": "string"}, media="application/x-ndjson"))},
    "/user-activity": {"get": op("the user's activity feed, newest first", tag="feed",
                                 params=FEED_QUERY,
                                 responses=ok(array(ref("UserActivityEntry"))))},
    "/user-activity/identifiers": {"get": op("only the ids of the feed", tag="feed",
                                             params=FEED_QUERY,
                                             responses=ok(array({"type": "string"})))},
    "/user-activity/{entry}": {
        "get": op("one feed entry", tag="feed", params=[path_param("entry")],
                  responses={**ok(ref("UserActivityEntry")), "410": ERROR_RESPONSE}),
        "put": op("change its text", tag="feed", params=[path_param("entry")],
                  request=body(feed.EntryTextChange.json_schema()),
                  responses={**ok(ref("UserActivityEntry")), "410": ERROR_RESPONSE}),
        "delete": op("soft delete", tag="feed", params=[path_param("entry")],
                     responses={**ok(ref("UserActivityEntry")), "410": ERROR_RESPONSE}),
    },
    # -- compatibility dialects (app/compat; their errors answer in the dialect's own shape) ----
    "/compat/plex/": {"get": op(
        "Plex: the server's MediaContainer, as plexapi reads it on connecting", tag="compat",
        auth="plex", error="PlexError", responses=ok({"type": "object"}, media="application/xml"))},
    "/compat/plex/activities": {"get": op(
        "Plex: activities as {MediaContainer: {size, Activity}} (JSON if accepted, else XML)",
        tag="compat", auth="plex", error="PlexError",
        responses={"200": {"description": "success", "content": {
            "application/json": {"schema": obj(["MediaContainer"], strict=False,
                                                MediaContainer={"type": "object"})},
            "application/xml": {"schema": {"type": "string"}}}}})},
    "/compat/plex/activities/{activity}": {"delete": op(
        "Plex: cancel an activity (exactly 200, no body)", tag="compat", auth="plex",
        error="PlexError",
        params=[path_param("activity")], responses={**ok(), "409": ERROR_RESPONSE})},
    "/compat/plex/:/eventsource/notifications": {"get": op(
        "Plex: activity notifications as Server-Sent Events (`event: activity`, data "
        "{NotificationContainer: {type, size, ActivityNotification: [{event, uuid, Activity}]}}; "
        "`event: ping` after silence); no resume", tag="compat", auth="plex",
        error="PlexError", params=[PLEX_FILTERS],
        responses=ok({"type": "string"}, media="text/event-stream"))},
    "/compat/plex/:/websockets/notifications": {"get": op(
        "Plex: the same notifications over a WebSocket (an upgrade; one NotificationContainer "
        "a message, the client sends nothing); a refused handshake answers the HTTP error",
        tag="compat", auth="plex", error="PlexError", params=[PLEX_FILTERS],
        responses={"101": {"description": "switching protocols"}})},
    "/compat/pieces/activity/identifiers": {"get": op(
        "Pieces: the feed's entry ids, newest first, as {iterable: [{id}]}", tag="compat",
        auth="pieces",
        params=[query("activity_filter_enum", {"type": "string", "enum": [
            "ALL", "USER", "CHANNEL", "FOLDER", "EVENT", "ATTACHMENT", "TOKEN", "ACTIVITY"]}),
            query("pseudo", {"type": "boolean"})],
        responses=ok(obj(["iterable"], strict=False, iterable=array({"type": "object"}))))},
    "/compat/pieces/activity/update": {"post": op(
        "Pieces: update an Activity (a deletion soft-deletes the feed entry)", tag="compat",
        auth="pieces", params=[query("transferables", {"type": "boolean"})],
        request=body({"type": "object", "required": ["id"]}),
        responses={**ok({"type": "object"}), "410": ERROR_RESPONSE})},
    "/compat/pieces/activity/{activity}": {"get": op(
        "Pieces: one feed entry as an Activity (410 when unknown or deleted)", tag="compat",
        auth="pieces",
        params=[path_param("activity"), query("transferables", {"type": "boolean"})],
        responses={**ok({"type": "object"}), "410": ERROR_RESPONSE})},
    "/compat/acronis/api/task_manager/v2/activities": {"get": op(
        "Acronis Task Manager v2: activities as {items, paging: {cursors: {after}}}",
        tag="compat",
        params=[query("state", {"type": "string"}), query("type", {"type": "string"}),
                query("resultCode", {"type": "string"}), query("uuid", {"type": "string"}),
                *[query(name, {"type": "string"}, "gt(T), ge(T), lt(T), le(T), eq(T) or T")
                  for name in ("createdAt", "startedAt", "completedAt", "updatedAt")],
                query("order", {"type": "string"}, "asc(F) or desc(F)"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                query("after", {"type": "string"}), query("lod", {"type": "string"})],
        responses=ok(obj(["items", "paging"], strict=False, items=array({"type": "object"}),
                         paging={"type": "object"}))),
    },
    "/compat/aisquare/api/v1/activity/{entry}/": {
        "get": op("AISquare Studio: one feed entry as a UserActivity", tag="compat",
                  error="AISquareError",
                  params=[path_param("entry")], responses=ok({"type": "object"})),
        "put": op("AISquare Studio: change a UserActivity's text", tag="compat",
                  error="AISquareError",
                  params=[path_param("entry")],
                  request=body(obj(["text"], strict=False, text=TEXT)),
                  responses=ok({"type": "object"})),
    },
    # -- subscriptions -------------------------------------------------------------------------
    "/stream": {"get": op(
        "EventSource subscription (text/event-stream, never ends)", tag="subscriptions",
        params=[query("channel", IDENTITY), query("folder", IDENTITY),
                query("activities", {"type": "string"}), query("lastEventId", {"type": "string"}),
                {"name": "Last-Event-ID", "in": "header", "required": False,
                 "schema": {"type": "string"}}],
        responses=ok({"type": "string"}, media="text/event-stream"))},
    "/ws": {"get": op(
        "WebSocket subscription (an upgrade; ops subscribe, unsubscribe, ping)",
        tag="subscriptions", responses={"101": {"description": "switching protocols"}})},
    # -- data API (channel-scoped) -------------------------------------------------------------
    "/{channel}/folders": {
        "get": op("the folder tree", tag="folders",
                  params=[CHANNEL, query("includeHidden", {"type": "boolean"}), STATE,
                          TIME_COUNT],
                  responses=ok(array(ref("Folder")))),
        "post": op("create a root folder", tag="folders", params=[CHANNEL],
                   request=body(folders.NewFolder.json_schema()),
                   responses=ok(ref("Created"), "201")),
    },
    "/{channel}/folders/{folder}": {
        "get": op("the folder tree below a folder", tag="folders",
                  params=[CHANNEL, FOLDER, query("includeHidden", {"type": "boolean"}), STATE,
                          TIME_COUNT],
                  responses=ok(array(ref("Folder")))),
        "post": op("create a child folder", tag="folders", params=[CHANNEL, FOLDER],
                   request=body(folders.NewFolder.json_schema()),
                   responses=ok(ref("Created"), "201")),
        "put": op("modify name, hidden, clientData", tag="folders", params=[CHANNEL, FOLDER],
                  request=body(folders.FolderChanges.json_schema()),
                  responses=ok(ref("Folder"))),
        "delete": op("trash; if trashed, delete for good with its descendants", tag="folders",
                     params=[CHANNEL, FOLDER,
                             query("mergeEventsWithParent", {"type": "boolean"}), *SYNC],
                     responses={**ok(EMPTY), **ok(ref("Activity"), "202"), "409": ERROR_RESPONSE}),
    },
    "/{channel}/folders/{folder}/move": {"post": op(
        "move under another parent (null: the root)", tag="folders", params=[CHANNEL, FOLDER],
        request=body(folders.FolderMove.json_schema()),
        responses=ok(ref("Folder")))},
    "/{channel}/events": {
        "get": op("query events", tag="events", params=[CHANNEL, *EVENTS_QUERY],
                  responses=ok(array(ref("Event")))),
        "post": op("record a mark or a finished period", tag="events", params=[CHANNEL],
                   request={"required": True, "content": {
                       "application/json": {"schema": obj(**EVENT_FIELDS)},
                       "multipart/form-data": {"schema": MULTIPART}}},
                   responses=ok(ref("Created"), "201")),
    },
    "/{channel}/events/start": {
        "post": op("start a period (stops the running one)", tag="events", params=[CHANNEL],
                   request=body(obj(**{k: EVENT_FIELDS[k] for k in EVENT_FIELDS
                                       if k != "duration"}), required=False),
                   responses=ok(ref("Created"), "201")),
        "get": op("start a period, with query parameters", tag="events",
                  params=[CHANNEL, *EVENT_QUERY_FORM], responses=ok(ref("Created"), "201")),
    },
    "/{channel}/events/stop": {
        "post": op("stop the running period", tag="events", params=[CHANNEL],
                   request=body(obj(time=TIME), required=False),
                   responses=ok(obj(["stoppedId"], stoppedId=nullable({"type": "string"})))),
        "get": op("stop the running period, with query parameters", tag="events",
                  params=[CHANNEL, query("time", TIME)],
                  responses=ok(obj(["stoppedId"], stoppedId=nullable({"type": "string"})))),
    },
    "/{channel}/events/record": {"get": op(
        "record an event, with query parameters", tag="events",
        params=[CHANNEL, *EVENT_QUERY_FORM], responses=ok(ref("Created"), "201"))},
    "/{channel}/events/running": {"get": op(
        "the running period events", tag="events", params=[CHANNEL],
        responses=ok(array(ref("Event"))))},
    "/{channel}/events/batch": {"post": op(
        "record many events, all or nothing (an activity)", tag="events", params=[CHANNEL, *SYNC],
        request=body(obj(["events"], events=array(BATCH_EVENT))),
        responses={**ok(obj(["addedEvents"], strict=False, addedEvents={"type": "array"})),
                   **ok(ref("Activity"), "202"), "409": ERROR_RESPONSE})},
    "/{channel}/events/{event}": {
        "get": op("one event", tag="events", params=[CHANNEL, EVENT], responses=ok(ref("Event"))),
        "put": op("modify an event", tag="events", params=[CHANNEL, EVENT],
                  request=body(obj(**EVENT_FIELDS, trashed={"type": "boolean"})),
                  responses=ok(ref("Event"))),
        "post": op("add attachments", tag="attachments", params=[CHANNEL, EVENT],
                   request=body(FILES, media="multipart/form-data"), responses=ok(ref("Event"))),
        "delete": op("trash; if trashed, delete for good", tag="events", params=[CHANNEL, EVENT],
                     responses=ok(EMPTY)),
    },
    "/{channel}/events/{event}/{fileName}": {
        "get": op("an attachment's bytes", tag="attachments", params=[CHANNEL, EVENT, FILE],
                  responses=ok({"type": "string", "format": "binary"},
                               media="application/octet-stream")),
        "delete": op("delete an attachment", tag="attachments", params=[CHANNEL, EVENT, FILE],
                     responses=ok(ref("Event"))),
    },
    "/{channel}/export": {"post": op(
        "the channel's data as JSON lines (an activity); once done, the download's link",
        tag="channels", params=[CHANNEL, *SYNC],
        responses={**ok(obj(["download"], strict=False, download={"type": "string"},
                            size={"type": "integer"}, lines={"type": "integer"})),
                   **ok(ref("Activity"), "202"), "409": ERROR_RESPONSE})},
}


def document() -> Schema:
    """The whole document (tests/unit/test_openapi.py keeps PATHS equal to the router's
    routes)."""
    paths = {path: dict(operations) for path, operations in PATHS.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "activity-server",
            "version": "0.1.0",
            "description": "Channels, folders, events, attachments, tokens, activities and "
                           "realtime push. The contract: docs/api.md. Every error answers "
                           "`{\"error\": {\"id\", \"message\", \"data\"?, \"subErrors\"?}}`.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "credential": {"type": "apiKey", "in": "header", "name": "Authorization",
                               "description": "a session id or a data access token (also "
                                              "accepted as the `auth` query parameter)"},
                "operator": {"type": "apiKey", "in": "header", "name": "Authorization",
                             "description": "the operator key, ACTIVITY_ADMIN_KEY"},
                "plex": {"type": "apiKey", "in": "header", "name": "X-Plex-Token",
                         "description": "a session id or token (also the X-Plex-Token query "
                                        "parameter, or Authorization)"},
                "pieces": {"type": "apiKey", "in": "header", "name": "X-Application-ID",
                           "description": "a session id or personal token (or Authorization)"},
            },
        },
    }


def routed(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of the application, paths in OpenAPI's `{name}` form."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        path = _openapi_path(getattr(route, "path", ""))
        if isinstance(route, WebSocketRoute):
            found.add(("get", path))
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method.lower(), path))
    return found


def _openapi_path(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", r"{\1}", path)


async def openapi_json(request: Request) -> JSONResponse:
    return json(_DOCUMENT)


_DOCUMENT = document()
