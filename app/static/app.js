/* The activity server's web page (docs/api.md §4): log in, browse and record, follow /stream.
 *
 * No framework and no build step: the DOM is built with createElement/textContent only (never
 * innerHTML with data), so what users typed can never run as code; the page's
 * Content-Security-Policy allows scripts from this server only.
 *
 * Live view: one EventSource on /stream without a filter, which sends every data change the
 * session may read and the user's own activities (credential in the `auth` query parameter,
 * since an EventSource cannot send headers). Folder and event changes re-read the current channel
 * (debounced: time counts must be recomputed by the server anyway); activity messages carry
 * the activity's whole state and are applied as they come. A stream closed by a non-200
 * answer (e.g. the server restarting) is never retried by the browser itself, so the page
 * re-opens it with a growing delay, resuming from the last id it saw.
 */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const state = {
    session: sessionStorage.getItem("sessionID"),
    userName: sessionStorage.getItem("userName"),
    channels: [],
    channelId: sessionStorage.getItem("channelId"),
    folders: [],
    folderNames: new Map(),
    events: [],
    fileInputs: new Map(),
    running: null,
    activities: new Map(),
    source: null,
    lastEventId: null,
    failures: 0,
    retryTimer: null,
    refreshTimer: null,
    channelsTimer: null,
    tick: null,
  };

  const MESSAGE_TYPES = [
    "channel.created", "channel.updated", "channel.trashed", "channel.deleted",
    "folder.created", "folder.updated", "folder.moved", "folder.trashed", "folder.deleted",
    "event.created", "event.updated", "event.trashed", "event.deleted",
    "attachment.added", "attachment.removed",
    "activity.created", "activity.started", "activity.progress", "activity.cancel_requested",
    "activity.completed", "activity.failed", "activity.cancelled",
  ];
  const ACTIVE = new Set(["pending", "running", "cancelling"]);
  const NOTICES = {
    CONFIRMED: "Registration confirmed: you can now log in.",
    CONFIRMED_ALREADY: "Your registration is already confirmed: you can log in.",
  };

  // --- talking to the API ----------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, error) {
      super((error && error.message) || `HTTP ${status}`);
      this.status = status;
      this.id = error && error.id;
    }
  }

  async function api(method, path, { json, body, headers = {}, query } = {}) {
    const url = new URL(path, location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const init = { method, headers: { ...headers } };
    if (state.session) init.headers.Authorization = state.session;
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!response.ok) {
      const failure = new ApiFailure(response.status, data && data.error);
      if (response.status === 401 && path !== "/login") sessionEnded();
      throw failure;
    }
    return data;
  }

  function showError(error) {
    if (error instanceof ApiFailure && error.status === 401) return;  // the login form says it
    const box = $("error");
    box.textContent = error instanceof ApiFailure
      ? `${error.message}${error.id ? ` (${error.id})` : ""}`
      : String(error && error.message ? error.message : error);
    box.hidden = false;
  }

  function clearError() { $("error").hidden = true; $("error").textContent = ""; }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  /** Runs an action from a control, reporting its failure on the page. */
  function act(fn) {
    return async (event) => {
      if (event && event.preventDefault) event.preventDefault();
      clearError();
      try { await fn(event); } catch (error) { showError(error); }
    };
  }

  // --- formatting --------------------------------------------------------------------------

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = s % 60;
    return `${h}:${String(m).padStart(2, "0")}:${String(rest).padStart(2, "0")}`;
  }

  function when(timestamp) { return new Date(timestamp * 1000).toLocaleString(); }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function timeCountBase() {
    const now = new Date();
    switch ($("period").value) {
      case "today": return new Date(now.getFullYear(), now.getMonth(), now.getDate()) / 1000;
      case "week": return now / 1000 - 7 * 86400;
      case "month": return now / 1000 - 30 * 86400;
      default: return 0;
    }
  }

  // --- session ----------------------------------------------------------------------------

  function showLogin() {
    $("login-view").hidden = false;
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("login-user").focus();
  }

  function forget() {
    state.session = null;
    sessionStorage.removeItem("sessionID");
    sessionStorage.removeItem("userName");
    closeStream();
    state.activities.clear();
    clearInterval(state.tick);
  }

  function sessionEnded() {
    if (!state.session) return;
    forget();
    notice("Your session has ended: please log in again.");
    showLogin();
  }

  async function login(event) {
    const userName = $("login-user").value.trim();
    const password = $("login-password").value;
    const form = event.target;
    form.querySelector("button").disabled = true;
    try {
      const answer = await api("POST", "/login", { json: { userName, password } });
      state.session = answer.sessionID;
      state.userName = userName.toLowerCase();
      sessionStorage.setItem("sessionID", state.session);
      sessionStorage.setItem("userName", state.userName);
      $("login-password").value = "";
      notice("");
      await start();
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 401) {
        showError(new Error("Wrong user name or password."));
      } else {
        throw error;
      }
    } finally {
      form.querySelector("button").disabled = false;
    }
  }

  async function logout() {
    try { await api("POST", "/logout"); } catch { /* the session may be gone already */ }
    forget();
    notice("You are logged out.");
    showLogin();
  }

  async function start() {
    const info = await api("GET", "/user-info");
    state.userName = info.userName;
    $("user-name").textContent = info.userName;
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("who").hidden = false;
    openStream();
    state.tick = setInterval(renderRunning, 1000);
    await Promise.all([loadChannels(), loadActivities()]);
  }

  // --- channels --------------------------------------------------------------------------

  async function loadChannels() {
    state.channels = await api("GET", "/channels", { query: { timeCountBase: timeCountBase() } });
    if (!state.channels.some((c) => c.id === state.channelId)) {
      state.channelId = state.channels.length ? state.channels[0].id : null;
    }
    renderChannels();
    await loadChannel();
  }

  function renderChannels() {
    const list = $("channels");
    list.replaceChildren(...state.channels.map((channel) => el("li", {},
      el("button", {
        type: "button",
        "data-id": channel.id,
        "aria-current": channel.id === state.channelId ? "true" : "false",
        "aria-label": `Open channel ${channel.name}`,
        text: channel.name,
        onclick: act(() => selectChannel(channel.id)),
      }))));
    if (!state.channels.length) list.append(el("li", { class: "muted", text: "No channel yet." }));
  }

  async function selectChannel(id) {
    state.channelId = id;
    sessionStorage.setItem("channelId", id);
    renderChannels();
    await loadChannel();
  }

  async function createChannel(event) {
    const input = $("channel-name");
    const answer = await api("POST", "/channels", { json: { name: input.value.trim() } });
    input.value = "";
    state.channelId = answer.id;
    await loadChannels();
    event.target.reset();
  }

  // --- one channel: folders, events, the running period ------------------------------------

  function channel() { return state.channels.find((c) => c.id === state.channelId); }

  async function loadChannel() {
    const current = channel();
    $("channel-body").hidden = !current;
    $("export").hidden = !current;
    $("channel-title").textContent = current ? current.name : "Choose a channel";
    if (!current) return;
    const id = encodeURIComponent(current.id);
    const trashed = $("show-trashed").checked ? "all" : "default";
    const [folders, events, running] = await Promise.all([
      api("GET", `/${id}/folders`, {
        query: { timeCountBase: timeCountBase(), includeHidden: true, state: trashed },
      }),
      api("GET", `/${id}/events`, { query: { state: trashed, limit: 50 } }),
      api("GET", `/${id}/events/running`),
    ]);
    if (current.id !== state.channelId) return;  // another channel was chosen meanwhile
    state.folders = folders;
    state.events = events;
    state.running = running.length ? running[0] : null;
    state.folderNames = new Map();
    walk(folders, (folder) => state.folderNames.set(folder.id, folder.name));
    renderFolders();
    renderEvents();
    renderRunning();
  }

  function walk(folders, visit, depth = 0) {
    for (const folder of folders) {
      visit(folder, depth);
      walk(folder.children || [], visit, depth + 1);
    }
  }

  /** Re-reads the current channel soon (changes come in bursts: one read for the burst). */
  function refreshSoon() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(act(loadChannel), 150);
  }

  function refreshChannelsSoon() {
    clearTimeout(state.channelsTimer);
    state.channelsTimer = setTimeout(act(loadChannels), 150);
  }

  function renderFolders() {
    const runningFolder = state.running && state.running.folderId;
    const render = (folder) => {
      const count = folder.timeCount === undefined ? null : folder.timeCount;
      const item = el("li", { class: folder.trashed ? "trashed" : "", "data-id": folder.id },
        el("div", { class: `folder${folder.id === runningFolder ? " is-running" : ""}` },
          el("span", { class: "name", text: folder.name }),
          count === null ? null : el("span", {
            class: "count", text: duration(count), title: "time tracked in this period",
          }),
          el("span", { class: "actions" },
            folder.trashed ? null : el("button", {
              type: "button", class: "start", text: "Start",
              "aria-label": `Start a period in ${folder.name}`,
              onclick: act(() => startPeriod(folder.id)),
            }),
            el("button", {
              type: "button", class: folder.trashed ? "restore" : "trash danger",
              text: folder.trashed ? "Restore" : "Trash",
              "aria-label": `${folder.trashed ? "Restore" : "Trash"} folder ${folder.name}`,
              onclick: act(() => trashFolder(folder)),
            }))));
      if (folder.children && folder.children.length) {
        item.append(el("ul", {}, ...folder.children.map(render)));
      }
      return item;
    };
    $("folders").replaceChildren(...state.folders.map(render));
    if (!state.folders.length) {
      $("folders").append(el("li", { class: "muted", text: "No folder yet." }));
    }
    const options = (none) => {
      const list = [el("option", { value: "", text: none })];
      walk(state.folders, (folder, depth) => {
        if (!folder.trashed) {
          list.push(el("option", {
            value: folder.id, text: `${"\u00a0\u00a0".repeat(depth)}${folder.name}`,
          }));
        }
      });
      return list;
    };
    for (const [id, none] of [["folder-parent", "(at the top)"], ["mark-folder", "(no folder)"]]) {
      const select = $(id);
      const chosen = select.value;
      select.replaceChildren(...options(none));
      select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
    }
  }

  function renderRunning() {
    const running = state.running;
    $("running").hidden = !running;
    if (!running) return;
    const name = state.folderNames.get(running.folderId) || running.folderId;
    $("running-text").textContent =
      `Running in ${name} since ${when(running.time)} (${duration(Date.now() / 1000 - running.time)})`;
  }

  function renderEvents() {
    const items = state.events.map((event) => {
      const kind = !("duration" in event) ? "mark" : event.duration === null ? "running" : "period";
      const folder = event.folderId ? state.folderNames.get(event.folderId) || event.folderId : "";
      const label = `${kind}${folder ? ` in ${folder}` : ""} at ${when(event.time)}`;
      const files = Object.values(event.attachments || {}).map((file) => el("a", {
        href: `/${encodeURIComponent(event.channelId)}/events/${encodeURIComponent(event.id)}/`
          + encodeURIComponent(file.fileName),
        class: "file",
        text: `${file.fileName} (${file.size} bytes)`,
        onclick: act((click) => download(click.currentTarget.getAttribute("href"), file.fileName)),
      }));
      // The same input across renders: a live update must not drop a file being chosen.
      const fileInput = state.fileInputs.get(event.id) || el("input", { type: "file" });
      fileInput.id = `file-${event.id}`;
      fileInput.setAttribute("aria-label", `File to attach to the ${label}`);
      state.fileInputs.set(event.id, fileInput);
      return el("li", { class: `event${event.trashed ? " trashed" : ""}`, "data-id": event.id },
        el("div", { class: "line" },
          el("time", { datetime: new Date(event.time * 1000).toISOString(), text: when(event.time) }),
          el("span", { class: `kind ${kind}`, text: kind }),
          el("span", { class: "what", text: [
            folder,
            kind === "period" ? duration(event.duration) : "",
            event.comment || "",
            event.trashed ? "(trashed)" : "",
          ].filter(Boolean).join(" · ") })),
        files.length ? el("div", { class: "files" }, ...files) : null,
        el("div", { class: "actions" },
          event.trashed ? null : fileInput,
          event.trashed ? null : el("button", {
            type: "button", class: "attach", text: "Attach",
            "aria-label": `Attach the chosen file to the ${label}`,
            onclick: act(() => attach(event, fileInput)),
          }),
          el("button", {
            type: "button", class: event.trashed ? "restore" : "trash danger",
            text: event.trashed ? "Restore" : "Trash",
            "aria-label": `${event.trashed ? "Restore" : "Trash"} the ${label}`,
            onclick: act(() => trashEvent(event)),
          })));
    });
    $("events").replaceChildren(...items);
    const shown = new Set(state.events.map((event) => event.id));
    for (const id of state.fileInputs.keys()) if (!shown.has(id)) state.fileInputs.delete(id);
    if (!items.length) $("events").append(el("li", { class: "muted", text: "No event yet." }));
  }

  const channelPath = () => `/${encodeURIComponent(state.channelId)}`;

  async function createFolder(event) {
    const name = $("folder-name").value.trim();
    const parent = $("folder-parent").value;
    const path = parent ? `${channelPath()}/folders/${encodeURIComponent(parent)}`
      : `${channelPath()}/folders`;
    await api("POST", path, { json: { name } });
    event.target.reset();
    await loadChannel();
  }

  async function trashFolder(folder) {
    const path = `${channelPath()}/folders/${encodeURIComponent(folder.id)}`;
    if (folder.trashed) await api("PUT", path, { json: { trashed: false } });
    else await api("DELETE", path);
    await loadChannel();
  }

  async function startPeriod(folderId) {
    await api("POST", `${channelPath()}/events/start`, { json: { folderId } });
    await loadChannel();
  }

  async function stopPeriod() {
    await api("POST", `${channelPath()}/events/stop`, { json: {} });
    await loadChannel();
  }

  async function recordMark(event) {
    const body = {};
    if ($("mark-folder").value) body.folderId = $("mark-folder").value;
    if ($("mark-comment").value.trim()) body.comment = $("mark-comment").value.trim();
    await api("POST", `${channelPath()}/events`, { json: body });
    $("mark-comment").value = "";
    await loadChannel();
  }

  async function trashEvent(event) {
    const path = `${channelPath()}/events/${encodeURIComponent(event.id)}`;
    if (event.trashed) await api("PUT", path, { json: { trashed: false } });
    else await api("DELETE", path);
    await loadChannel();
  }

  async function attach(event, input) {
    if (!input.files.length) throw new Error("Choose a file to attach first.");
    const form = new FormData();
    for (const file of input.files) form.append("file", file, file.name);
    await api("POST", `${channelPath()}/events/${encodeURIComponent(event.id)}`, { body: form });
    await loadChannel();
  }

  /** Fetches a file with the session in a header (never in a URL) and saves it. */
  async function download(path, fileName) {
    const response = await fetch(path, { headers: { Authorization: state.session } });
    if (!response.ok) {
      let error = null;
      try { error = (await response.json()).error; } catch { /* not JSON */ }
      throw new ApiFailure(response.status, error);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: fileName, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // --- activities ------------------------------------------------------------------------

  async function loadActivities() {
    const list = await api("GET", "/activities", { query: { limit: 20 } });
    for (const activity of list) merge(activity);
    renderActivities();
  }

  /** Keeps the newest state of an activity (messages and answers may cross on the wire):
   * never an older state, and never back from a final state to an active one. */
  function merge(activity) {
    const known = state.activities.get(activity.id);
    if (known) {
      if (!ACTIVE.has(known.state) && ACTIVE.has(activity.state)) return;
      if ((known.updatedAt || 0) > (activity.updatedAt || 0)) return;
    }
    state.activities.set(activity.id, activity);
  }

  function renderActivities() {
    const activities = [...state.activities.values()]
      .sort((a, b) => b.createdAt - a.createdAt).slice(0, 20);
    $("no-activities").hidden = activities.length > 0;
    $("activities").replaceChildren(...activities.map((activity) => {
      const progress = activity.progress || {};
      const bar = el("progress", {
        max: 100, "aria-label": `Progress of ${activity.title}`,
      });
      if (typeof progress.percent === "number") bar.value = progress.percent;
      else bar.removeAttribute("value");  // indeterminate while the total is unknown
      const counts = progress.total !== undefined && progress.total !== null
        ? `${progress.done} / ${progress.total}` : progress.done ? `${progress.done}` : "";
      const payload = activity.result && activity.result.payload;
      const downloadable = activity.state === "completed" && payload && payload.download;
      const cancellable = activity.cancellable
        && (activity.state === "pending" || activity.state === "running");
      return el("li", { "data-id": activity.id, "data-state": activity.state },
        el("span", { class: "title", text: activity.title }),
        bar,
        el("div", { class: "meta" },
          el("span", { class: "state", "data-state": activity.state, text: activity.state }),
          counts ? el("span", { class: "counts", text: counts }) : null,
          activity.error ? el("span", { class: "error-text", text: activity.error.message }) : null,
          cancellable || activity.state === "cancelling" ? el("button", {
            type: "button", class: "cancel danger",
            text: activity.state === "cancelling" ? "Cancelling…" : "Cancel",
            disabled: activity.state === "cancelling",
            "aria-label": `Cancel ${activity.title}`,
            onclick: act(() => cancelActivity(activity.id)),
          }) : null,
          downloadable ? el("a", {
            href: payload.download, class: "download",
            text: "Download", "aria-label": `Download the result of ${activity.title}`,
            onclick: act((click) => download(click.currentTarget.getAttribute("href"),
              `${(activity.context && activity.context.channelId) || "channel"}-export.jsonl`)),
          }) : null));
    }));
  }

  async function exportChannel() {
    const answer = await api("POST", `${channelPath()}/export`,
      { headers: { Prefer: "respond-async" } });
    if (answer && answer.id) { merge(answer); renderActivities(); }
  }

  async function cancelActivity(id) {
    merge(await api("DELETE", `/activities/${encodeURIComponent(id)}`));
    renderActivities();
  }

  // --- the live stream -------------------------------------------------------------------

  function setLive(status, text) {
    $("live").dataset.state = status;
    $("live").textContent = text;
  }

  function closeStream() {
    clearTimeout(state.retryTimer);
    if (state.source) state.source.close();
    state.source = null;
    setLive("off", "offline");
  }

  function openStream() {
    closeStream();
    const url = new URL("/stream", location.origin);
    // No filter: every data change the session may read and the user's own activities
    // (`activities=mine` alone would select the activities only).
    url.searchParams.set("auth", state.session);
    // After a few failed attempts the resume position itself may be the problem (a database
    // that was rebuilt): start afresh and re-read everything instead.
    if (state.lastEventId && state.failures < 3) {
      url.searchParams.set("lastEventId", state.lastEventId);
    }
    let interrupted = state.failures > 0;
    const source = new EventSource(url);
    state.source = source;
    source.onopen = () => {
      setLive("live", "live");
      state.failures = 0;
      // Back after a break: a stream that had not received any id yet cannot resume, so
      // re-read what is on screen (harmless when the resume did bring every change).
      if (interrupted) { refreshChannelsSoon(); loadActivities().catch(showError); }
      interrupted = false;
    };
    source.onerror = () => {
      if (source !== state.source) return;
      interrupted = true;
      if (source.readyState === EventSource.CONNECTING) {
        setLive("reconnecting", "reconnecting…");  // the browser retries by itself
        return;
      }
      source.close();  // closed for good by the browser: retry ourselves, later and later
      state.failures += 1;
      const delay = Math.min(30000, 1000 * 2 ** Math.min(state.failures - 1, 5));
      setLive("reconnecting", "reconnecting…");
      state.retryTimer = setTimeout(checkAndReopen, delay);
    };
    for (const type of MESSAGE_TYPES) source.addEventListener(type, onChange);
  }

  /** The stream was refused: reopen it unless the refusal was the session ending. */
  async function checkAndReopen() {
    if (!state.session) return;
    try {
      await api("GET", "/user-info");
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 401) return;  // sessionEnded ran
      // The server is still away: try again later.
    }
    if (state.session) openStream();
  }

  function onChange(frame) {
    if (frame.lastEventId) state.lastEventId = frame.lastEventId;
    let message;
    try { message = JSON.parse(frame.data); } catch { return; }
    const type = message.type || frame.type;
    if (type.startsWith("activity.")) {
      merge(message.data);
      renderActivities();
    } else if (type.startsWith("channel.")) {
      refreshChannelsSoon();
    } else if (message.channelId === state.channelId) {
      refreshSoon();
    }
  }

  // --- wiring ------------------------------------------------------------------------------

  function init() {
    const msg = new URLSearchParams(location.search).get("msg");
    if (msg && NOTICES[msg]) notice(NOTICES[msg]);
    $("login-form").addEventListener("submit", act(login));
    $("logout").addEventListener("click", act(logout));
    $("channel-form").addEventListener("submit", act(createChannel));
    $("folder-form").addEventListener("submit", act(createFolder));
    $("mark-form").addEventListener("submit", act(recordMark));
    $("stop").addEventListener("click", act(stopPeriod));
    $("export").addEventListener("click", act(exportChannel));
    $("period").addEventListener("change", act(loadChannels));
    $("show-trashed").addEventListener("change", act(loadChannel));
    if (state.session) {
      start().catch((error) => { showError(error); if (!state.session) showLogin(); });
    } else {
      showLogin();
    }
  }

  init();
})();
