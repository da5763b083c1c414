// The usage dashboard: reads GET /api/inngest/monitoring with the key or token the user enters
// once (kept in sessionStorage, sent as a bearer header, never put in a URL) and draws it.
// The view (range, filters, the runs list and the run shown, auto-refresh) lives in the URL
// hash, so it can be shared or bookmarked; every number that leads somewhere is a link to a
// hash. Everything from the API is inserted as text, never as markup.
// Drawing: dashboard-draw.js; the runs list and a run: dashboard-runs.js.
"use strict";

const API = "/api/inngest/monitoring";
const TOKEN_KEY = "inngest-app.monitoring.token";
const DAY_MS = 86400000;
const HOUR_MS = 3600000;
const SVG_NS = "http://www.w3.org/2000/svg";
const RANGES = ["1", "7", "30", "90", "month", "custom"];
const AUTO = ["0", "10", "30", "60", "300"];
const RUN_STATUSES = ["", "started", "completed", "failed", "cancelled"];
const DEFAULTS = { range: "30", start: "", end: "", fn: "", user: "", auto: "0", runs: null, run: "" };

const view = { token: null, admin: null, body: null, range: null, functions: new Set(), sort: { key: "count", dir: -1 } };
let state = { ...DEFAULTS };
let loads = 0;
let autoTimer = null;

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

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const integer = new Intl.NumberFormat("en-US");

function count(n) {
  return integer.format(Number(n) || 0);
}

function percent(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "—";
}

function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

function usd(value) {
  const n = Number(value) || 0;
  return `$${n.toFixed(n >= 1 ? 2 : 4)}`;
}

function utc(iso) {
  return `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function setState(name) {
  document.body.dataset.state = name;
}

function banner(kind, text) {
  const node = $("status");
  node.className = `banner ${kind}`;
  node.textContent = text;
  node.hidden = !text;
}

// --- the view in the URL hash ----------------------------------------------------------------

function readHash(hash = location.hash) {
  const p = new URLSearchParams(hash.slice(1));
  const pick = (name, allowed, fallback) => (allowed.includes(p.get(name)) ? p.get(name) : fallback);
  const day = (name) => (/^\d{4}-\d{2}-\d{2}$/.test(p.get(name) || "") ? p.get(name) : "");
  const next = {
    ...DEFAULTS,
    range: pick("range", RANGES, DEFAULTS.range),
    fn: (p.get("fn") || "").slice(0, 200),
    user: (p.get("user") || "").slice(0, 200),
    auto: pick("auto", AUTO, "0"),
    run: (p.get("run") || "").slice(0, 200),
  };
  if (next.range === "custom") {
    next.start = day("start");
    next.end = day("end");
  }
  if (p.get("runs") === "1") {
    next.runs = {
      fn: (p.get("runs.fn") || "").slice(0, 200),
      status: pick("runs.status", RUN_STATUSES, ""),
      from: (p.get("runs.from") || "").slice(0, 40),
      to: (p.get("runs.to") || "").slice(0, 40),
    };
  }
  return next;
}

function hashOf(s) {
  const p = new URLSearchParams();
  if (s.range !== DEFAULTS.range) p.set("range", s.range);
  if (s.range === "custom") {
    p.set("start", s.start);
    p.set("end", s.end);
  }
  if (s.fn) p.set("fn", s.fn);
  if (s.user) p.set("user", s.user);
  if (s.auto !== "0") p.set("auto", s.auto);
  if (s.runs) {
    p.set("runs", "1");
    for (const key of ["fn", "status", "from", "to"]) if (s.runs[key]) p.set(`runs.${key}`, s.runs[key]);
  }
  if (s.run) p.set("run", s.run);
  return `#${p.toString()}`;
}

function linkTo(changes) {
  return hashOf({ ...state, ...changes });
}

const GLOBALS = ["range", "start", "end", "fn", "user"];

function markPending(next) {
  // what a new view will reload says so at once, before the hashchange event arrives
  if (!view.token) return;
  if (GLOBALS.some((key) => state[key] !== next[key])) setState("loading");
  if (next.runs && !same(state.runs, next.runs)) $("runs-panel").dataset.state = "loading";
  if (next.run && state.run !== next.run) $("run-panel").dataset.state = "loading";
}

function navigate(target) {
  if (target === location.hash || (target === "#" && !location.hash)) {
    sync(true); // the same view: no hashchange, so reload it here
  } else {
    markPending(readHash(target));
    location.hash = target; // a history entry: Back returns to the previous view
  }
}

function go(changes) {
  navigate(linkTo(changes));
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sync(force) {
  const before = state;
  state = readHash();
  $("range").value = state.range;
  for (const node of document.querySelectorAll(".custom")) node.hidden = state.range !== "custom";
  if (state.range === "custom") {
    $("start").value = state.start;
    $("end").value = state.end;
  }
  $("auto").value = state.auto;
  $("user").value = state.user;
  setFunctionChoice(state.fn);
  if (!view.token) return;
  const changed = GLOBALS.some((key) => before[key] !== state[key]);
  if (force || changed || !view.body) load();
  else if (view.body && view.range) render(view.body, view.range); // links carry the new view
  if (force || changed || !same(before.runs, state.runs)) loadRuns();
  if (force || before.run !== state.run) loadRun();
  if (before.auto !== state.auto || force) startAuto();
}

function startAuto() {
  clearInterval(autoTimer);
  const seconds = Number(state.auto);
  if (seconds > 0 && view.token) {
    autoTimer = setInterval(() => {
      if (document.hidden) return; // a background tab waits for the next tick it is seen
      load();
      loadRuns();
      loadRun();
    }, seconds * 1000);
  }
}

// --- the range and filters -------------------------------------------------------------------

function chosenRange() {
  const now = new Date();
  if (state.range === "custom") {
    const { start, end } = state;
    if (!start || !end) return { error: "Choose both dates of the custom range." };
    if (start > end) return { error: "The range starts after it ends." };
    const span = Date.parse(`${end}T00:00:00Z`) + DAY_MS - Date.parse(`${start}T00:00:00Z`);
    return {
      params: { startDate: start, endDate: end },
      runs: { from: start, to: end },
      firstDay: start,
      lastDay: end,
      startMs: Date.parse(`${start}T00:00:00Z`),
      endMs: Math.min(now.getTime(), Date.parse(`${end}T00:00:00Z`) + DAY_MS),
      hourly: span <= 2 * DAY_MS,
    };
  }
  let start;
  if (state.range === "month") {
    start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  } else {
    start = new Date(now.getTime() - Number(state.range) * DAY_MS);
  }
  return {
    params: { startDate: start.toISOString() },
    runs: { from: start.toISOString() },
    firstDay: isoDay(start),
    lastDay: isoDay(now),
    startMs: start.getTime(),
    endMs: now.getTime(),
    hourly: now.getTime() - start.getTime() <= 2 * DAY_MS,
  };
}

function filterParams(params) {
  const fn = state.fn;
  if (fn) params.set("functionId", fn);
  if (state.user && view.admin !== false) params.set("userId", state.user);
  return params;
}

function setFunctionChoice(chosen) {
  const select = $("function");
  const ids = new Set(view.functions);
  if (chosen) ids.add(chosen);
  select.replaceChildren(
    el("option", { value: "" }, "All functions"),
    ...[...ids].sort().map((id) => el("option", { value: id }, id)),
  );
  select.value = chosen;
}

// --- loading -------------------------------------------------------------------------------

async function getJSON(url) {
  // {ok, body} on success; {error} with the API's message otherwise
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${view.token}` }, cache: "no-store" });
  } catch (error) {
    return { error: `Could not reach the monitoring API: ${error.message}` };
  }
  if (!response.ok) {
    let detail = response.statusText;
    let code = "";
    try {
      const body = await response.json();
      detail = body.error || detail;
      code = body.code ? ` (${body.code})` : "";
    } catch (_) {
      // not JSON: keep the status text
    }
    return { error: `The monitoring API answered ${response.status}${code}: ${detail}`, status: response.status };
  }
  return { ok: true, body: await response.json() };
}

async function load() {
  const range = chosenRange();
  setState("loading");
  const mine = ++loads;
  if (range.error) {
    showError(range.error);
    return;
  }
  if (!view.body) banner("info", "Loading…");
  const answer = await getJSON(`${API}?${filterParams(new URLSearchParams(range.params))}`);
  if (mine !== loads) return; // a newer request is on its way
  if (!answer.ok) {
    showError(answer.error);
    if (answer.status === 401) signOut({ keepBanner: true });
    return;
  }
  view.body = answer.body;
  render(answer.body, range);
}

function showError(text) {
  banner("error", text);
  $("report").hidden = true;
  setState("error");
}

// --- sign-in and events ----------------------------------------------------------------------

function signIn(token) {
  view.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("signin").hidden = true;
  $("filters").hidden = false;
  view.body = null;
  sync(true);
}

function signOut({ keepBanner } = {}) {
  view.token = null;
  view.body = null;
  view.admin = null;
  clearInterval(autoTimer);
  sessionStorage.removeItem(TOKEN_KEY);
  $("signin").hidden = false;
  $("filters").hidden = true;
  $("report").hidden = true;
  $("runs-panel").hidden = true;
  $("run-panel").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  if (!keepBanner) {
    banner("", "");
    setState("signin");
  }
  $("token").focus();
}

function start() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (token) signIn(token);
  });
  $("signout").addEventListener("click", () => signOut());
  $("range").addEventListener("change", () => {
    const range = $("range").value;
    if (range === "custom") {
      go({
        range,
        end: $("end").value || isoDay(new Date()),
        start: $("start").value || isoDay(new Date(Date.now() - 6 * DAY_MS)),
      });
    } else {
      go({ range });
    }
  });
  for (const id of ["start", "end"]) $(id).addEventListener("change", () => go({ [id]: $(id).value }));
  $("function").addEventListener("change", () => go({ fn: $("function").value }));
  $("user").addEventListener("change", () => go({ user: $("user").value.trim() }));
  $("auto").addEventListener("change", () => go({ auto: $("auto").value }));
  $("refresh").addEventListener("click", () => sync(true));
  window.addEventListener("hashchange", () => sync(false));
  document.addEventListener("click", (event) => {
    // links between views (numbers, bars, runs) go through navigate() too
    const link = event.target instanceof Element ? event.target.closest("a") : null;
    const href = link ? link.getAttribute("href") || "" : "";
    if (!href.startsWith("#") || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    navigate(href);
  });
  startDrawing();
  startRuns();
  state = readHash();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved);
  } else {
    sync(false);
    signOut();
  }
}

document.addEventListener("DOMContentLoaded", start);
