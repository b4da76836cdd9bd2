"""The Pieces dialect (`/compat/pieces`, app/compat/pieces.py) through `pieces-os-client`'s
`ActivityApi` against a real server process: identifiers (newest first, filtered), a snapshot
built from a feed entry, an update that deletes it, and the errors (410, 401, 403)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pieces_os_client.api.activity_api import ActivityApi
from pieces_os_client.api_client import ApiClient
from pieces_os_client.configuration import Configuration
from pieces_os_client.exceptions import ApiException

from tests.compat.support import feed_ids, shared_token, user_id
from tests.realtime.server import ServerProcess
from tests.support import auth, create_user, make_channel, make_folder


async def call(server: ServerProcess, credential: str | None,
               use: Callable[[ActivityApi], Any]) -> Any:
    """Runs `use(ActivityApi)` with the credential as the SDK's application key (the SDK is
    synchronous: it runs in a thread)."""

    def run() -> Any:
        configuration = Configuration(host=f"{server.url}/compat/pieces")
        if credential is not None:
            configuration.api_key["application"] = credential
        with ApiClient(configuration) as client:
            return use(ActivityApi(client))

    return await asyncio.to_thread(run)


async def identifiers(server: ServerProcess, credential: str, **filters: Any) -> list[str]:
    flattened = await call(server, credential,
                           lambda api: api.activity_identifiers_snapshot(**filters))
    return [referenced.id for referenced in flattened.iterable]


async def test_identifiers_newest_first_and_filtered(server, rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    await make_folder(rest, alice, channel, "Work")
    await make_folder(rest, alice, channel, "Home")
    every = await feed_ids(rest, alice)
    assert len(every) == 5  # created by the operator, login, channel, two folders
    assert await identifiers(server, alice) == every
    assert await identifiers(server, alice, activity_filter_enum="ALL") == every
    folders = await feed_ids(rest, alice, type="folder.created")
    assert await identifiers(server, alice, activity_filter_enum="FOLDER") == folders
    assert len(folders) == 2
    assert await identifiers(server, alice, activity_filter_enum="TOKEN") == []
    with pytest.raises(ApiException) as bad:
        await identifiers(server, alice, activity_filter_enum="NOPE")
    assert bad.value.status == 400


async def test_a_snapshot_is_built_from_the_feed_entry(server, rest, pool):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    await make_folder(rest, alice, channel, "Work")
    (entry_id, *_) = await feed_ids(rest, alice, type="folder.created")
    native = (await rest.get(f"/user-activity/{entry_id}", headers=auth(alice))).json()

    snapshot = await call(server, alice,
                          lambda api: api.activities_specific_activity_snapshot(entry_id))
    assert snapshot.id == entry_id
    assert snapshot.created.readable == "alice created folder Work" == native["text"]
    assert snapshot.created.value.timestamp() == pytest.approx(native["createdAt"], abs=1e-5)
    assert snapshot.updated.value == snapshot.created.value
    assert snapshot.deleted is None
    assert snapshot.mechanism.value == "MANUAL"
    assert snapshot.user.id == str(await user_id(pool, "alice"))
    assert snapshot.user.username == "alice"
    assert snapshot.application.name.value == "OS_SERVER"
    # The account's creation was the operator's doing.
    first = (await feed_ids(rest, alice, type="user.created"))[0]
    created = await call(server, alice,
                         lambda api: api.activities_specific_activity_snapshot(first))
    assert created.mechanism.value == "AUTOMATIC"


async def test_an_update_that_deletes_the_entry(server, rest):
    alice = await create_user(rest, "alice")
    await make_channel(rest, alice)
    (entry_id, *_) = await feed_ids(rest, alice, type="channel.created")

    def unchanged_then_deleted(api: ActivityApi) -> tuple[Any, Any]:
        current = api.activities_specific_activity_snapshot(entry_id)
        same = api.activity_update(activity=current)
        current.mechanism = "DELETED"
        return same, api.activity_update(activity=current)

    same, deleted = await call(server, alice, unchanged_then_deleted)
    assert (same.id, same.mechanism.value, same.deleted) == (entry_id, "MANUAL", None)
    assert (deleted.id, deleted.mechanism.value) == (entry_id, "DELETED")
    assert deleted.deleted is not None
    # The feed's own soft delete: the native route answers 410 now.
    r = await rest.get(f"/user-activity/{entry_id}", headers=auth(alice))
    assert r.status_code == 410
    assert entry_id not in await identifiers(server, alice)
    with pytest.raises(ApiException) as gone:
        await call(server, alice, lambda api: api.activities_specific_activity_snapshot(entry_id))
    assert gone.value.status == 410
    with pytest.raises(ApiException) as again:
        await call(server, alice, lambda api: api.activity_update(activity=deleted))
    assert again.value.status == 410


@pytest.mark.parametrize("unknown", ["999999", "not-an-id"])
async def test_an_unknown_activity_is_410(server, rest, unknown):
    alice = await create_user(rest, "alice")
    with pytest.raises(ApiException) as gone:
        await call(server, alice, lambda api: api.activities_specific_activity_snapshot(unknown))
    assert gone.value.status == 410
    assert '"UNKNOWN_RESOURCE"' in gone.value.body  # the native error, read as text


async def test_another_users_entry_is_410(server, rest):
    alice = await create_user(rest, "alice")
    bob = await create_user(rest, "bob")
    (entry_id, *_) = await feed_ids(rest, alice)
    with pytest.raises(ApiException) as gone:
        await call(server, bob, lambda api: api.activities_specific_activity_snapshot(entry_id))
    assert gone.value.status == 410


async def test_credentials_missing_or_shared_token(server, rest):
    alice = await create_user(rest, "alice")
    channel = await make_channel(rest, alice)
    reader = await shared_token(rest, alice, channel)
    with pytest.raises(ApiException) as missing:
        await identifiers(server, None)  # type: ignore[arg-type]
    assert missing.value.status == 401
    with pytest.raises(ApiException) as shared:
        await identifiers(server, reader)
    assert shared.value.status == 403
