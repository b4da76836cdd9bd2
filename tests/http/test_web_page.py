"""The web page (docs/api.md §4) in a real browser: headless Chromium (Debian's `chromium`, driven
by Playwright for Python) against a real server process on loopback.

The browser tests skip only where /usr/bin/chromium is missing (`.ci/run` installs it, so CI
runs them). Each main screen is saved under tests/artifacts/ for a person to look at.

The server runs exports one event per step with a pause at each step
(`ACTIVITY_EXPORT_PAGE=1`, `ACTIVITY_STEP_PAUSE`), so that an export of a few dozen events
lasts long enough to be watched and cancelled half-way; the tests wait on what the page shows,
never on the clock.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realtime import server as server_module
from tests.realtime.server import ServerProcess
from tests.support import (
    OPERATOR_KEY,
    PASSWORD,
    auth,
    create_user,
    error_id,
    make_channel,
    make_folder,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parents[1] / "artifacts"  # tests/artifacts/
STATIC = Path(__file__).parents[2] / "app" / "static"
WAIT_MS = 30_000  # generous: the page reacts to another process
STEP_PAUSE = "0.25"  # seconds per export step (one event)
LONG_EXPORT_EVENTS = 60  # at least 15 s of export: ample time to press Cancel


def server_env(data_dir: Path) -> dict[str, str]:
    return {
        "ACTIVITY_DATA_DIR": str(data_dir),
        "ACTIVITY_EXPORT_PAGE": "1",
        "ACTIVITY_STEP_PAUSE": STEP_PAUSE,
        "ACTIVITY_STREAM_HEARTBEAT_SECONDS": "1",
        "ACTIVITY_POLL_SECONDS": "0.2",
    }


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_server(database_url: str, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("web-data")
    process = ServerProcess(database_url, OPERATOR_KEY, **server_env(data_dir)).wait_ready()
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat, before anything runs
        pytest.skip("no Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium); "
                    "Playwright's own browser download cannot be used here")
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


class Page:
    """A browser tab on the page, with what went wrong in it (script errors, CSP refusals)."""

    def __init__(self, tab: Any, problems: list[str]) -> None:
        self.tab = tab
        self.problems = problems


async def open_tab(browser: Any, base_url: str, **options: Any) -> tuple[Any, Page]:
    context = await browser.new_context(base_url=base_url, accept_downloads=True, **options)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    tab.on("console", lambda message: problems.append(f"console: {message.text}")
           if "Content Security Policy" in message.text else None)
    return context, Page(tab, problems)


@pytest.fixture
async def page(browser: Any, web_server: ServerProcess) -> AsyncIterator[Any]:
    context, page = await open_tab(browser, web_server.url,
                                   viewport={"width": 1280, "height": 900})
    yield page.tab
    await context.close()
    assert not page.problems, page.problems


@pytest.fixture
async def rest(web_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web_server.url, timeout=30) as client:
        yield client


@pytest.fixture
async def alice(rest: httpx.AsyncClient) -> str:
    return await create_user(rest, "alice")


# --- helpers ---------------------------------------------------------------------------------


def expect(target: Any) -> Any:
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


async def screenshot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def log_in(tab: Any, user: str = "alice", password: str = PASSWORD) -> None:
    await tab.goto("/")
    await tab.get_by_label("User name").fill(user)
    await tab.get_by_label("Password").fill(password)
    await tab.get_by_role("button", name="Log in").click()
    await expect(tab.locator("#user-name")).to_have_text(user)
    await expect(tab.locator("#live")).to_have_text("live")


async def record_marks(rest: httpx.AsyncClient, session: str, channel: str, count: int,
                       folder: str | None = None) -> None:
    for i in range(count):
        body: dict[str, Any] = {"comment": f"mark {i}"}
        if folder:
            body["folderId"] = folder
        r = await rest.post(f"/{channel}/events", json=body, headers=auth(session))
        assert r.status_code == 201, r.text


async def events(rest: httpx.AsyncClient, session: str, channel: str) -> list[dict[str, Any]]:
    r = await rest.get(f"/{channel}/events", params={"state": "all"}, headers=auth(session))
    assert r.status_code == 200, r.text
    return r.json()


async def event_with(rest: httpx.AsyncClient, session: str, channel: str,
                     comment: str) -> dict[str, Any]:
    (event,) = [e for e in await events(rest, session, channel) if e.get("comment") == comment]
    return event


def event_item(tab: Any, text: str) -> Any:
    return tab.locator("#events li.event", has_text=text)


def activity_item(tab: Any) -> Any:
    return tab.locator("#activities li").first


async def unlabelled_controls(tab: Any) -> list[str]:
    """Every control on screen without an accessible name (label, aria-label or text)."""
    return await tab.evaluate("""() => [...document.querySelectorAll(
        'button, input, select, textarea, a[href], progress')]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => {
        const named = (el.getAttribute('aria-label') || '').trim()
          || (el.labels && [...el.labels].some((l) => l.textContent.trim()))
          || (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim());
        return !named;
      })
      .map((el) => el.outerHTML.slice(0, 120))""")


# --- served files (no browser needed) --------------------------------------------------------


async def test_the_page_and_its_files_are_served_under_a_strict_policy(client) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    for name, media in (("app.js", "text/javascript"), ("app.css", "text/css"),
                        ("favicon.svg", "image/svg+xml")):
        r = await client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].startswith(media)
        assert r.headers["content-security-policy"] == policy
        assert r.content == (STATIC / name).read_bytes()
    for missing in ("/static/nothing.js", "/static/..%2Fpage.py", "/static/.hidden"):
        r = await client.get(missing)
        assert r.status_code == 404, missing
        assert error_id(r) == "UNKNOWN_RESOURCE"


# --- in the browser --------------------------------------------------------------------------


async def test_log_in_messages_and_log_out(page: Any, rest: httpx.AsyncClient,
                                           alice: str) -> None:
    await page.goto("/?msg=CONFIRMED")
    await expect(page.locator("#notice")).to_contain_text("Registration confirmed")
    await expect(page.get_by_label("User name")).to_be_visible()
    await screenshot(page, "login")
    await page.goto("/?msg=CONFIRMED_ALREADY")
    await expect(page.locator("#notice")).to_contain_text("already confirmed")

    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#error")).to_contain_text("Wrong user name or password")
    assert await page.evaluate("sessionStorage.getItem('sessionID')") is None

    await log_in(page)
    session = await page.evaluate("sessionStorage.getItem('sessionID')")
    assert (await rest.get("/user-info", headers=auth(session))).status_code == 200
    await page.reload()  # the session is kept for the tab's life
    await expect(page.locator("#user-name")).to_have_text("alice")

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_label("User name")).to_be_visible()
    await expect(page.locator("#app-view")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('sessionID')") is None
    r = await rest.get("/user-info", headers=auth(session))
    assert r.status_code == 401 and error_id(r) == "INVALID_CREDENTIALS"


async def test_create_a_folder_then_start_and_stop_a_period(
    page: Any, rest: httpx.AsyncClient, alice: str
) -> None:
    channel = await make_channel(rest, alice, "Work")
    await log_in(page)
    await expect(page.locator("#channel-title")).to_have_text("Work")

    await page.get_by_label("New folder name").fill("Writing")
    await page.get_by_role("button", name="Create folder").click()
    await expect(page.locator("#folders .folder .name")).to_have_text(["Writing"])
    r = await rest.get(f"/{channel}/folders", headers=auth(alice))
    (folder,) = r.json()
    assert folder["name"] == "Writing"

    await page.get_by_role("button", name="Start a period in Writing").click()
    await expect(page.locator("#running")).to_contain_text("Running in Writing")
    r = await rest.get(f"/{channel}/events/running", headers=auth(alice))
    (running,) = r.json()
    assert running["folderId"] == folder["id"] and running["duration"] is None
    await screenshot(page, "channel-running")

    await page.get_by_role("button", name="Stop the running period").click()
    await expect(page.locator("#running")).to_be_hidden()
    (stopped,) = await events(rest, alice, channel)
    assert stopped["id"] == running["id"]
    assert stopped["duration"] is not None and stopped["duration"] > 0
    await expect(page.locator("#events li.event .kind")).to_have_text(["period"])
    await expect(page.locator("#folders .folder .count")).to_have_text(
        re.compile(r"^\d+:\d\d:\d\d$"))
    await screenshot(page, "channel")


async def test_record_a_mark_attach_a_file_trash_and_restore(
    page: Any, rest: httpx.AsyncClient, alice: str, tmp_path: Path
) -> None:
    channel = await make_channel(rest, alice, "Home")
    folder = await make_folder(rest, alice, channel, "Kitchen")
    await log_in(page)
    await expect(page.locator("#folders .folder .name")).to_have_text(["Kitchen"])

    await page.get_by_label("Folder of the mark").select_option(label="Kitchen")
    await page.get_by_label("Comment").fill("first coffee")
    await page.get_by_role("button", name="Record a mark").click()
    item = event_item(page, "first coffee")
    await expect(item.locator(".kind")).to_have_text("mark")
    (mark,) = await events(rest, alice, channel)
    assert mark["comment"] == "first coffee" and mark["folderId"] == folder
    assert "duration" not in mark

    note = tmp_path / "note.txt"
    note.write_bytes(b"hello")
    await item.locator("input[type=file]").set_input_files(str(note))
    # A change arriving meanwhile re-renders the list: the chosen file must survive it.
    await record_marks(rest, alice, channel, 1)
    await expect(event_item(page, "mark 0")).to_be_visible()
    await item.get_by_role("button", name=re.compile("^Attach the chosen file")).click()
    link = item.get_by_role("link", name="note.txt (5 bytes)")
    await expect(link).to_be_visible()
    mark = await event_with(rest, alice, channel, "first coffee")
    assert mark["attachments"]["note.txt"]["size"] == 5
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert await asyncio.to_thread(Path(await download.path()).read_bytes) == b"hello"

    await item.get_by_role("button", name=re.compile("^Trash the mark")).click()
    await expect(event_item(page, "first coffee")).to_have_count(0)
    mark = await event_with(rest, alice, channel, "first coffee")
    assert mark["trashed"] is True

    await page.get_by_label("show trashed").check()
    await expect(event_item(page, "first coffee")).to_contain_text("(trashed)")
    await event_item(page, "first coffee").get_by_role(
        "button", name=re.compile("^Restore the mark")).click()
    await expect(event_item(page, "first coffee")).not_to_contain_text("(trashed)")
    mark = await event_with(rest, alice, channel, "first coffee")
    assert mark["trashed"] is False

    await page.get_by_role("button", name="Trash folder Kitchen").click()
    await page.get_by_role("button", name="Restore folder Kitchen").click()
    await expect(page.get_by_role("button", name="Trash folder Kitchen")).to_be_visible()
    r = await rest.get(f"/{channel}/folders", headers=auth(alice))
    assert [f["trashed"] for f in r.json()] == [False]


async def test_a_change_made_through_the_api_appears_live(
    page: Any, rest: httpx.AsyncClient, alice: str
) -> None:
    channel = await make_channel(rest, alice, "Shared")
    await log_in(page)
    await expect(page.locator("#channel-title")).to_have_text("Shared")
    await page.evaluate("window.sameDocument = true")

    folder = await make_folder(rest, alice, channel, "From elsewhere")
    await expect(page.locator("#folders .folder .name")).to_have_text(["From elsewhere"])
    r = await rest.post(f"/{channel}/events", json={"folderId": folder, "comment": "via curl"},
                        headers=auth(alice))
    assert r.status_code == 201
    await expect(event_item(page, "via curl")).to_be_visible()
    r = await rest.post(f"/{channel}/events/start", json={"folderId": folder},
                        headers=auth(alice))
    assert r.status_code == 201
    await expect(page.locator("#running")).to_contain_text("Running in From elsewhere")
    await make_channel(rest, alice, "Another")
    await expect(page.get_by_role("button", name="Open channel Another")).to_be_visible()

    assert await page.evaluate("window.sameDocument") is True  # no reload happened


async def test_an_export_shows_its_progress_to_the_end_and_offers_its_download(
    page: Any, rest: httpx.AsyncClient, alice: str
) -> None:
    channel = await make_channel(rest, alice, "Diary")
    folder = await make_folder(rest, alice, channel, "Days")
    await record_marks(rest, alice, channel, 5, folder)
    await log_in(page)
    await expect(page.locator("#no-activities")).to_be_visible()
    # Every value the progress bar takes, as the page renders it.
    await page.evaluate("""() => {
      window.progressSeen = [];
      new MutationObserver(() => {
        const bar = document.querySelector('#activities li progress');
        if (bar && bar.hasAttribute('value')) window.progressSeen.push(bar.value);
      }).observe(document.getElementById('activities'), {childList: true, subtree: true});
    }""")

    await page.get_by_role("button", name="Export this channel").click()
    item = activity_item(page)
    await expect(item.locator(".title")).to_contain_text("Export channel 'Diary'")
    await expect(item).to_have_attribute("data-state", "completed")
    bar = item.get_by_label("Progress of Export channel 'Diary'")
    assert await bar.evaluate("bar => bar.value") == 100
    seen = await page.evaluate("window.progressSeen")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    await screenshot(page, "activities")

    activity_id = await item.get_attribute("data-id")
    r = await rest.get(f"/activities/{activity_id}", headers=auth(alice))
    assert r.json()["state"] == "completed"
    async with page.expect_download() as download_info:
        await item.get_by_role("link", name=re.compile("^Download")).click()
    download = await download_info.value
    lines = (await asyncio.to_thread(Path(await download.path()).read_text)).splitlines()
    assert len(lines) == 1 + 1 + 5  # the channel, its folder, its events


async def test_cancel_a_long_activity(page: Any, rest: httpx.AsyncClient, alice: str) -> None:
    channel = await make_channel(rest, alice, "Archive")
    await record_marks(rest, alice, channel, LONG_EXPORT_EVENTS)
    await log_in(page)

    await page.get_by_role("button", name="Export this channel").click()
    item = activity_item(page)
    await expect(item).to_have_attribute("data-state", "running")
    await expect(item.locator(".counts")).to_be_visible()  # progress has begun
    await item.get_by_role("button", name="Cancel Export channel 'Archive'").click()
    await expect(item).to_have_attribute("data-state", "cancelled")
    await expect(item.get_by_role("button")).to_have_count(0)
    await expect(item.get_by_role("link")).to_have_count(0)  # nothing to download

    activity_id = await item.get_attribute("data-id")
    r = await rest.get(f"/activities/{activity_id}", headers=auth(alice))
    activity = r.json()
    assert activity["state"] == "cancelled" and activity["cancelRequested"] is True
    assert activity["progress"]["done"] < activity["progress"]["total"]
    await screenshot(page, "activity-cancelled")


async def test_usable_at_phone_width_with_every_control_labelled(
    browser: Any, web_server: ServerProcess, rest: httpx.AsyncClient, alice: str
) -> None:
    channel = await make_channel(rest, alice, "A channel with a rather long name for a phone")
    folder = await make_folder(rest, alice, channel, "Some folder")
    await record_marks(rest, alice, channel, 2, folder)
    context, page = await open_tab(browser, web_server.url,
                                   viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        tab = page.tab
        await tab.goto("/")
        assert await unlabelled_controls(tab) == []
        await log_in(tab)
        await expect(tab.locator("#events li.event")).to_have_count(2)
        await tab.get_by_role("button", name="Export this channel").click()
        await expect(activity_item(tab)).to_have_attribute("data-state", "completed")
        assert await unlabelled_controls(tab) == []
        assert await tab.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
        await screenshot(tab, "phone")
        assert not page.problems, page.problems
    finally:
        await context.close()


async def test_the_stream_reopens_after_a_server_restart(
    browser: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = server_env(tmp_path)
    first = ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()
    port = first.port
    second: ServerProcess | None = None
    context, page = await open_tab(browser, first.url)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as rest:
            session = await create_user(rest, "alice")
            channel = await make_channel(rest, session, "Restarts")
        tab = page.tab
        await log_in(tab)
        await tab.evaluate("window.sameDocument = true")

        # While the server is away, a proxy in front of it would answer 502: an EventSource
        # closed by a non-200 answer never retries by itself, so every request after the
        # first refusal comes from the page's own reconnecting.
        refused: list[str] = []

        async def proxy_down(route: Any) -> None:
            refused.append(route.request.url)
            await route.fulfill(status=502, content_type="text/plain", body="bad gateway")

        await tab.route("**/stream?*", proxy_down)
        await asyncio.to_thread(first.stop)
        await expect(tab.locator("#live")).to_have_text("reconnecting…")
        async with asyncio.timeout(WAIT_MS / 1000):
            while len(refused) < 2:  # noqa: ASYNC110 - the browser calls the handler
                await asyncio.sleep(0.1)
        monkeypatch.setattr(server_module, "free_port", lambda: port)
        second = await asyncio.to_thread(
            lambda: ServerProcess(database_url, OPERATOR_KEY, **env).wait_ready()
        )
        await tab.unroute("**/stream?*", proxy_down)
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as rest:
            r = await rest.post(f"/{channel}/events", json={"comment": "after the restart"},
                                headers=auth(session))
            assert r.status_code == 201, r.text
        await expect(tab.locator("#live")).to_have_text("live")
        await expect(event_item(tab, "after the restart")).to_be_visible()
        assert await tab.evaluate("window.sameDocument") is True
        assert not page.problems, page.problems
    finally:
        await context.close()
        first.stop()
        if second is not None:
            second.stop()
