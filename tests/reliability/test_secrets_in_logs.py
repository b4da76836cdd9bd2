"""Secrets never reach a log line: passwords, their hashes, session ids, token secrets and the
operator key, whichever way a client sent them (header, `auth` query, body)."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import httpx

from tests.support import OPERATOR_KEY, PASSWORD, auth


async def test_no_secret_in_the_server_log(start_server, pool: asyncpg.Pool) -> None:
    server = start_server(ACTIVITY_LOG_LEVEL="debug")
    new_password = "a brand new passphrase 42"
    secrets: list[str] = [PASSWORD, new_password, OPERATOR_KEY]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        r = await client.post("/system/users", headers=auth(OPERATOR_KEY),
                              json={"userName": "alice", "password": PASSWORD})
        assert r.status_code == 201
        await client.post("/system/users", headers=auth("wrong-operator-key-secret"),
                          json={"userName": "eve", "password": PASSWORD})
        secrets.append("wrong-operator-key-secret")
        r = await client.post("/login", json={"userName": "alice", "password": "wrong " + PASSWORD})
        assert r.status_code == 401
        secrets.append("wrong " + PASSWORD)
        r = await client.post("/login", json={"userName": "alice", "password": PASSWORD})
        session = r.json()["sessionID"]
        secrets.append(session)
        r = await client.post("/channels", json={"name": "Work"}, headers=auth(session))
        channel = r.json()["id"]
        r = await client.post("/tokens", headers=auth(session), json={
            "name": "app", "permissions": [{"channelId": channel, "folderPermissions": [
                {"folderId": None, "type": "manage"}]}]})
        token, token_id = r.json()["token"], r.json()["id"]
        secrets.append(token)
        # The credential in the query string, as a browser's EventSource sends it.
        await client.get("/channels", params={"auth": token})
        await client.get(f"/{channel}/events", params={"auth": token})
        await client.get("/channels", headers={"Authorization": f"Bearer {token}"})
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/stream", params={"auth": token}) as resp:
                assert resp.status == 200
            async with http.ws_connect(server.url + "/ws", params={"auth": token}) as ws:
                await ws.send_json({"op": "ping"})
                await ws.receive(timeout=30)
        await client.post(f"/{channel}/events", params={"auth": token},
                          json={"comment": "hello"})
        r = await client.post("/change-password", headers=auth(session),
                              json={"oldPassword": PASSWORD, "newPassword": new_password})
        assert r.status_code == 200, r.text
        await client.delete(f"/tokens/{token_id}", headers=auth(session))
        await client.post("/logout", headers=auth(session))
    async with pool.acquire() as conn:
        secrets += [r["password_hash"] for r in await conn.fetch("SELECT password_hash FROM users")]
        secrets += [r["token_hash"] for r in await conn.fetch("SELECT token_hash FROM tokens")]
    await asyncio.sleep(0.5)  # let the last lines reach the file
    server.terminate()  # its shutdown lines count too; the fixture removes the file after
    server.process.wait(30)
    log = server.log()
    assert "app.access" in log, "the access log is missing: the test would prove nothing"
    leaked = [s[:12] + "..." for s in secrets if s and s in log]
    assert not leaked, f"secrets in the log: {leaked}"
    assert "$argon2" not in log

