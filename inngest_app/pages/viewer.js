// The offline executor's run viewer: polls /viewer/api/state (every second while a run is
// live), shows a chosen run's steps, and sends events through the executor's event API.
// Everything from the executor is inserted as text, never as markup.
"use strict";

const LIVE_MS = 1000;
const IDLE_MS = 4000;
const view = { state: null, runId: null, run: null, timer: null, awaiting: null };

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

async function refresh() {
  clearTimeout(view.timer);
  let live = false;
  try {
    const state = await getJSON("/viewer/api/state");
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
  const showInternal = $("show-internal").checked;
  // a system event is shown anyway when it started runs (failure handlers, invokes)
  const events = state.events.filter((e) => showInternal || !e.internal || e.runs.length);
  $("no-events").hidden = events.length > 0;
  $("events").replaceChildren(...events.map(renderEvent));
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
  if (fromClick) refresh();
}

function renderRun(run) {
  $("no-run").hidden = true;
  $("run-detail").hidden = false;
  $("run-detail").dataset.status = run.status;
  $("run-function").textContent = run.functionId;
  $("run-status").replaceWith(Object.assign(badge(run.status), { id: "run-status" }));
  $("run-id").textContent = run.runId;
  $("run-event").textContent = `${run.event.name} (${run.event.id})`;
  $("run-attempts").textContent = `${run.attempts}${run.retries ? ` (${run.retries} retried call${run.retries === 1 ? "" : "s"})` : ""}`;
  $("run-duration").textContent = run.done ? duration(run.durationMs) : `${duration(run.durationMs)} so far`;
  $("run-started").textContent = clockTime(run.startedAt);
  $("no-steps").hidden = run.steps.length > 0;
  $("steps").replaceChildren(...run.steps.map(renderStep));
  const result = $("run-result");
  result.className = `result${run.status === "failed" ? " bad" : ""}`;
  if (run.status === "completed") {
    result.replaceChildren(el("h3", {}, "Output"), el("pre", { class: "output" }, json(run.output)));
  } else if (run.error) {
    result.replaceChildren(el("h3", {}, "Error"), errorBlock(run.error));
  } else {
    result.replaceChildren();
  }
}

function errorBlock(error) {
  // name and message up front; the rest (stack, code) folded away
  const { name, message, stack, ...rest } = error || {};
  const block = el("div", { class: "error-block" }, el("pre", { class: "bad" }, `${name || "Error"}: ${message || ""}`));
  const more = Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  if (stack) more.push(String(stack));
  if (more.length) {
    block.append(el("details", {}, el("summary", {}, stack ? "stack" : "details"), el("pre", { class: "trace" }, more.join("\n"))));
  }
  return block;
}

function renderStep(step) {
  const item = el(
    "li",
    { "data-step": step.name, class: step.ok ? "ok" : "bad" },
    el("span", { class: "id" }, step.name),
    " ",
    el("span", { class: "kind" }, `${step.kind}${step.attempt > 1 ? ` · attempt ${step.attempt}` : ""}${step.pending ? " · pending" : ""}${step.note ? ` · ${step.note}` : ""}`),
  );
  if ("output" in step) item.append(el("pre", { class: "output" }, json(step.output)));
  if (step.error) item.append(errorBlock(step.error));
  return item;
}

// --- sending -------------------------------------------------------------------------------

async function send(event) {
  event.preventDefault();
  const result = $("send-result");
  const name = $("event-name").value.trim();
  let data;
  try {
    data = JSON.parse($("event-data").value || "{}");
  } catch (error) {
    result.textContent = `Data is not JSON: ${error.message}`;
    result.className = "warn";
    return;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    result.textContent = "Data must be a JSON object.";
    result.className = "warn";
    return;
  }
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
  $("show-internal").addEventListener("change", () => view.state && renderState(view.state));
  const match = location.hash.match(/^#run=(.+)$/);
  if (match) view.runId = decodeURIComponent(match[1]);
  refresh();
}

start();
