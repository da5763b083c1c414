// The offline executor's run viewer: polls /viewer/api/state (every second while a run is
// live) with the filters, pages past the first 100 events, and sends events through the
// executor's event API. A chosen run (its steps, timeline, rerun/cancel) and invoking a
// function: viewer-run.js. Everything from the executor is inserted as text, never as markup.
"use strict";

const LIVE_MS = 1000;
const IDLE_MS = 4000;
const PAGE = 100;
const view = { state: null, runId: null, run: null, timer: null, awaiting: null, pages: 1 };

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function json(value) {
  // short values on one line, spaced ({ "a": 1 }); longer ones indented
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) return "undefined";
  const line = JSON.stringify(value, null, 1).replace(/\n\s*/g, " ");
  return line.length <= 60 ? line : text;
}

function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

function clockTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

function banner(kind, text) {
  const node = $("status");
  node.className = `banner ${kind}`;
  node.textContent = text;
  node.hidden = !text;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

// --- polling -------------------------------------------------------------------------------

function filterQuery() {
  const params = new URLSearchParams();
  const fields = { function: "f-function", status: "f-status", event: "f-event", id: "f-id" };
  for (const [name, id] of Object.entries(fields)) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  if ($("show-internal").checked) params.set("internal", "true");
  params.set("limit", String(PAGE));
  return params;
}

async function fetchState() {
  // every page the user has opened, each after the previous one's last event
  const query = filterQuery().toString();
  const pages = [];
  let before = null;
  for (let i = 0; i < view.pages; i++) {
    const page = await getJSON(`/viewer/api/state?${query}${before === null ? "" : `&before=${before}`}`);
    pages.push(page);
    before = page.nextBefore;
    if (before === null) break;
  }
  return { ...pages[0], events: pages.flatMap((p) => p.events), nextBefore: before };
}

async function refresh() {
  clearTimeout(view.timer);
  let live = false;
  try {
    const state = await fetchState();
    view.state = state;
    live = state.live;
    banner("", "");
    renderState(state);
    followSent(state);
    if (view.runId) {
      view.run = await getJSON(`/viewer/api/runs/${encodeURIComponent(view.runId)}`);
      renderRun(view.run);
      live = live || !view.run.done;
    }
  } catch (error) {
    banner("error", `Cannot read the executor's state: ${error.message}`);
  }
  $("live").textContent = live ? "runs live: refreshing every second" : "idle";
  $("live").classList.toggle("on", live);
  document.body.dataset.live = String(live);
  document.body.dataset.loaded = "true";
  view.timer = setTimeout(refresh, live || view.awaiting ? LIVE_MS : IDLE_MS);
}

function followSent(state) {
  // after a send, open the first run the event started as soon as it exists
  if (!view.awaiting) return;
  const event = state.events.find((e) => e.id === view.awaiting.id);
  if (event && event.runs.length) {
    view.awaiting = null;
    select(event.runs[0].runId, false);
  } else if (Date.now() - view.awaiting.since > 10000) {
    view.awaiting = null; // it started no run (no function listens to it)
  }
}

function choices(select, ids, first) {
  const chosen = select.value;
  const all = new Set(ids);
  if (chosen) all.add(chosen);
  select.replaceChildren(...(first ? [el("option", { value: "" }, first)] : []),
    ...[...all].sort().map((id) => el("option", { value: id }, id)));
  select.value = chosen || (first ? "" : [...all].sort()[0] || "");
}

function renderState(state) {
  $("dev-command").textContent = state.executor.devServerCommand;
  $("key-field").hidden = !state.executor.eventKeyRequired;
  const names = new Set();
  for (const fn of state.functions) for (const t of fn.triggers) if (!t.startsWith("cron ") && !t.endsWith("*")) names.add(t);
  $("event-names").replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
  $("no-functions").hidden = state.functions.length > 0;
  $("functions").replaceChildren(
    ...state.functions.map((fn) =>
      el("li", {}, el("span", { class: "id" }, fn.id), el("span", { class: "muted" }, ` ← ${fn.triggers.join(", ") || "no trigger"}`)),
    ),
  );
  const ids = state.functions.map((fn) => fn.id);
  choices($("f-function"), ids, "Any");
  choices($("invoke-function"), ids, null);
  const counts = Object.entries(state.counts || {}).sort();
  $("counts").textContent = counts.length ? `Runs: ${counts.map(([k, n]) => `${n} ${k}`).join(" · ")}` : "";
  const filtered = filterQuery().toString() !== `limit=${PAGE}`;
  $("no-events").textContent = filtered ? "No event or run matches these filters." : "No event yet. Send one above, or from the app.";
  $("no-events").hidden = state.events.length > 0;
  homeRunPanel(); // out of the list before the list is redrawn
  $("events").replaceChildren(...state.events.map(renderEvent));
  $("older").hidden = state.nextBefore === null;
  placeRunPanel();
}

function renderEvent(event) {
  const runs = el(
    "ul",
    { class: "runs" },
    ...event.runs.map((run) => {
      const button = el(
        "button",
        { type: "button", "data-run": run.runId, "aria-current": String(run.runId === view.runId) },
        el("span", { class: "fn" }, run.functionId),
        badge(run.status),
        el("span", { class: "meta" }, `${run.attempts} attempt${run.attempts === 1 ? "" : "s"} · ${duration(run.durationMs)}`),
      );
      button.addEventListener("click", () => select(run.runId, true));
      return el("li", {}, button);
    }),
  );
  const when = event.ts ? new Date(event.ts).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
  return el(
    "li",
    { "data-event": event.id },
    el("div", { class: "head" }, el("span", { class: "name" }, event.name), el("span", { class: "muted small" }, when)),
    el("div", { class: "id small muted" }, event.id),
    el("details", {}, el("summary", {}, "payload"), el("pre", {}, json(event.data))),
    event.runs.length ? runs : el("p", { class: "muted small" }, "started no run"),
  );
}

function select(runId, fromClick) {
  view.runId = runId;
  history.replaceState(null, "", `#run=${encodeURIComponent(runId)}`);
  for (const button of document.querySelectorAll(".runs button")) {
    button.setAttribute("aria-current", String(button.dataset.run === runId));
  }
  placeRunPanel();
  if (fromClick) refresh();
}

// --- sending -------------------------------------------------------------------------------

// The JSON object typed in the field `id`, or null after saying in `result` why it is not one.
function jsonObjectOf(id, result) {
  let data;
  try {
    data = JSON.parse($(id).value || "{}");
  } catch (error) {
    result.textContent = `Data is not JSON: ${error.message}`;
    result.className = "warn";
    return null;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    result.textContent = "Data must be a JSON object.";
    result.className = "warn";
    return null;
  }
  return data;
}

async function send(event) {
  event.preventDefault();
  const result = $("send-result");
  const name = $("event-name").value.trim();
  const data = jsonObjectOf("event-data", result);
  if (data === null) return;
  const key = $("key-field").hidden ? "viewer" : $("event-key").value.trim() || "missing";
  let response;
  let body = {};
  try {
    response = await fetch(`/e/${encodeURIComponent(key)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, data }),
    });
    body = await response.json();
  } catch (error) {
    result.textContent = `Could not send: ${error.message}`;
    result.className = "warn";
    return;
  }
  if (!response.ok) {
    result.textContent = `Refused (${response.status}): ${body.error || response.statusText}`;
    result.className = "warn";
    return;
  }
  const [id] = body.ids;
  result.textContent = `Sent ${name} (${id})`;
  result.className = "muted";
  view.awaiting = { id, since: Date.now() };
  refresh();
}

function start() {
  $("send").addEventListener("submit", send);
  const again = () => {
    view.pages = 1;
    refresh();
  };
  $("show-internal").addEventListener("change", again);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    again();
  });
  for (const id of ["f-function", "f-status"]) $(id).addEventListener("change", again);
  let typing = null;
  for (const id of ["f-event", "f-id"]) {
    $(id).addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(again, 250);
    });
  }
  $("older").addEventListener("click", () => {
    view.pages += 1;
    refresh();
  });
  startRun();
  const match = location.hash.match(/^#run=(.+)$/);
  if (match) view.runId = decodeURIComponent(match[1]);
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
