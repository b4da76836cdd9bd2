"""The Plex dialect (`/compat/plex`, app/compat/plex.py) through Plex's own clients against a
real server process: `plex-api-client` (JSON: list and cancel) and `plexapi` (XML: connect and
list), the `X-Plex-Token` header and query parameter, who sees what, and the errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from xml.etree import ElementTree

import plexapi.exceptions
import pytest
from plex_api_client import PlexAPI
from plex_api_client.models import errors
from plexapi.server import PlexServer

from tests.compat.support import activity, start_export, user_id
from tests.realtime.server import ServerProcess
from tests.support import create_user, make_channel


async def eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not check():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.05)


def sdk(server: ServerProcess, token: str) -> PlexAPI:
    return PlexAPI(token=token, server_url=f"{server.url}/compat/plex")


def number(user: uuid.UUID) -> int:
    return int(user.hex[:12], 16)


async def listed(server: ServerProcess, token: str) -> list:
    response = await sdk(server, token).activities.list_activities_async()
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    return response.object.media_container.activity or []


async def test_the_sdk_lists_own_activities_and_an_admin_sees_all(server, rest, pool):
    alice = await create_user(rest, "alice")
    bob = await create_user(rest, "bob")
    root = await create_user(rest, "root", admin=True)
    channel = await make_channel(rest, alice)
    first = await start_export(rest, alice, channel)
    second = await start_export(rest, alice, channel)
    bobs = await start_export(rest, bob, await make_channel(rest, bob, "Home"))

    activities = await listed(server, alice)
    assert [a.uuid for a in activities] == [second, first]  # newest first
    top = activities[0]
    assert top.type == "channel.export"
    assert top.title == "Export channel 'Work'"
    # Nothing runs activities on this module's database: the work is still pending.
    assert (await activity(rest, alice, top.uuid))["state"] == "pending"
    assert top.subtitle == "Pending"
    assert top.cancellable is True
    assert top.progress == -1  # pending: the total is not known yet
    assert top.user_id == number(await user_id(pool, "alice"))
    assert top.context == {"channelId": channel}
    assert top.response == {}
    raw = await rest.get("/compat/plex/activities",
                         headers={"X-Plex-Token": alice, "Accept": "application/json"})
    assert raw.json()["MediaContainer"]["size"] == 2

    assert [a.uuid for a in await listed(server, bob)] == [bobs]
    assert {a.uuid for a in await listed(server, root)} == {first, second, bobs}


async def test_the_sdk_cancels_with_exactly_200(server, rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    activity_id = await start_export(rest, alice, channel)
    plex = sdk(server, alice)
    response = await plex.activities.cancel_activity_async(request={"activity_id": activity_id})
    assert response.status_code == 200
    assert response.raw_response.content == b""
    # The native cancel ran: no worker had the work (none runs on this module's database), so
    # it ended at once.
    cancelled = await activity(rest, alice, activity_id)
    assert (cancelled["state"], cancelled["cancelRequested"]) == ("cancelled", True)
    (listed_one,) = await listed(server, alice)
    assert (listed_one.cancellable, listed_one.subtitle) == (False, "Cancelled")
    # Asking again answers the current state: still 200.
    again = await plex.activities.cancel_activity_async(request={"activity_id": activity_id})
    assert again.status_code == 200


async def test_cancel_errors_unknown_and_not_yours(server, rest):
    alice = await create_user(rest, "alice")
    bob = await create_user(rest, "bob")
    activity_id = await start_export(rest, alice, await make_channel(rest, alice))
    with pytest.raises(errors.SDKError) as unknown:
        await sdk(server, alice).activities.cancel_activity_async(
            request={"activity_id": str(uuid.uuid4())})
    assert unknown.value.status_code == 404
    with pytest.raises(errors.SDKError) as hidden:
        await sdk(server, bob).activities.cancel_activity_async(
            request={"activity_id": activity_id})
    assert hidden.value.status_code == 404
    # Bob's refused cancel asked nothing (another test server's runner may have run it since).
    after = await activity(rest, alice, activity_id)
    assert after["cancelRequested"] is False and after["state"] in ("pending", "running",
                                                                    "completed")


async def test_a_wrong_token_is_401_in_plex_error_shape(server, rest):
    with pytest.raises(errors.Error) as refused:
        await listed(server, "not-a-token")
    assert refused.value.raw_response.status_code == 401
    (error,) = refused.value.data.errors
    assert (error.code, error.status) == (401, 401)
    assert refused.value.raw_response.json()["error"]["id"] == "INVALID_TOKEN"  # and ours


async def test_plexapi_connects_and_lists_in_xml(server, rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    activity_id = await start_export(rest, alice, channel)

    def with_plexapi() -> list:
        plex = PlexServer(f"{server.url}/compat/plex", alice)
        assert plex.friendlyName == "activity-server"
        return plex.activities

    (listed_one,) = await asyncio.to_thread(with_plexapi)
    assert listed_one.uuid == activity_id
    assert listed_one.type == "channel.export"
    assert listed_one.cancellable is True
    assert listed_one.progress == -1
    assert listed_one.title == "Export channel 'Work'"


async def test_the_token_as_a_query_parameter_and_the_xml_shape(server, rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    activity_id = await start_export(rest, alice, channel)
    r = await rest.get("/compat/plex/activities", params={"X-Plex-Token": alice})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(r.content)
    assert (root.tag, root.get("size")) == ("MediaContainer", "1")
    (element,) = root.findall("Activity")
    assert element.get("uuid") == activity_id
    assert element.get("cancellable") == "1"
    assert element.find("Context").get("channelId") == channel
    # The token in the URL stays out of the access log (written once the answer is sent).
    await eventually(lambda: "/compat/plex/activities?X-Plex-Token=***" in server.log())
    assert alice not in server.log()


async def test_plexapi_with_a_wrong_token_is_unauthorized(server):
    with pytest.raises(plexapi.exceptions.Unauthorized):
        await asyncio.to_thread(PlexServer, f"{server.url}/compat/plex", "not-a-token")
