// The usage dashboard: reads GET /api/inngest/monitoring with the key or token the user enters
// once (kept in sessionStorage, sent as a bearer header, never put in a URL) and draws it.
// Everything from the API is inserted as text, never as markup.
"use strict";

const API = "/api/inngest/monitoring";
const TOKEN_KEY = "inngest-app.monitoring.token";
const DAY_MS = 86400000;
const SVG_NS = "http://www.w3.org/2000/svg";

const view = { token: null, body: null, range: null, functions: [], sort: { key: "count", dir: -1 } };
let loads = 0;

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child));
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

function setState(state) {
  document.body.dataset.state = state;
}

function banner(kind, text) {
  const node = $("status");
  node.className = `banner ${kind}`;
  node.textContent = text;
  node.hidden = !text;
}

// --- the range and filters -------------------------------------------------------------------

function chosenRange() {
  const now = new Date();
  const choice = $("range").value;
  if (choice === "custom") {
    const start = $("start").value;
    const end = $("end").value;
    if (!start || !end) return { error: "Choose both dates of the custom range." };
    if (start > end) return { error: "The range starts after it ends." };
    return { params: { startDate: start, endDate: end }, firstDay: start, lastDay: end };
  }
  let start;
  if (choice === "month") {
    start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  } else {
    start = new Date(now.getTime() - Number(choice) * DAY_MS);
  }
  return {
    params: { startDate: start.toISOString() },
    firstDay: isoDay(start),
    lastDay: isoDay(now),
  };
}

function query(range) {
  const params = new URLSearchParams(range.params);
  const fn = $("function").value;
  if (fn) params.set("functionId", fn);
  const user = $("user").value.trim();
  if (user && !$("user-filter").hidden) params.set("userId", user);
  return params;
}

// --- loading -------------------------------------------------------------------------------

async function load() {
  const range = chosenRange();
  setState("loading");
  const mine = ++loads;
  if (range.error) {
    showError(range.error);
    return;
  }
  banner("info", "Loading…");
  let response;
  try {
    response = await fetch(`${API}?${query(range)}`, {
      headers: { Authorization: `Bearer ${view.token}` },
      cache: "no-store",
    });
  } catch (error) {
    if (mine === loads) showError(`Could not reach the monitoring API: ${error.message}`);
    return;
  }
  if (mine !== loads) return; // a newer request is on its way
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
    showError(`The monitoring API answered ${response.status}${code}: ${detail}`);
    if (response.status === 401) signOut({ keepBanner: true });
    return;
  }
  const body = await response.json();
  if (mine !== loads) return;
  view.body = body;
  render(body, range);
}

function showError(text) {
  banner("error", text);
  $("report").hidden = true;
  setState("error");
}

// --- drawing -------------------------------------------------------------------------------

function render(body, range) {
  const admin = Array.isArray(body.byUser);
  $("who").textContent = admin ? "admin: every user's runs" : "your runs only";
  $("signout").hidden = false;
  $("user-filter").hidden = !admin;
  updateFunctionChoices(body);
  if (admin && !$("user").value.trim()) {
    $("users").replaceChildren(...body.byUser.map((u) => el("option", { value: u.userId })));
  }
  const runs = body.totalExecutions;
  const empty = runs === 0;
  const from = range.firstDay;
  const to = range.lastDay;
  if (empty) {
    banner("empty", `No runs recorded from ${from} to ${to}${filterText()}.`);
  } else {
    banner("", "");
  }
  renderTotals(body, empty);
  $("report").hidden = false; // shown before drawing: the charts measure their width
  $("data").hidden = empty;
  if (!empty) {
    view.range = range;
    renderCharts();
    renderFunctions();
    renderTriggers(body.byTriggerType, runs);
    renderFailures(body.recentFailures);
  }
  renderAlerts(admin ? body.alerts || [] : null);
  setState(empty ? "empty" : "loaded");
}

function filterText() {
  const parts = [];
  if ($("function").value) parts.push(`function ${$("function").value}`);
  const user = $("user").value.trim();
  if (user && !$("user-filter").hidden) parts.push(`user ${user}`);
  return parts.length ? ` for ${parts.join(" and ")}` : "";
}

function updateFunctionChoices(body) {
  const select = $("function");
  const chosen = select.value;
  if (!chosen) view.functions = body.byFunction.map((f) => f.functionId).sort();
  const ids = new Set(view.functions);
  if (chosen) ids.add(chosen);
  select.replaceChildren(
    el("option", { value: "" }, "All functions"),
    ...[...ids].sort().map((id) => el("option", { value: id }, id)),
  );
  select.value = chosen;
}

function billedSteps(body) {
  return body.billedSteps ?? body.totalSteps;
}

function card(id, big, sub, warn) {
  $(`t-${id}`).textContent = big;
  const note = $(`t-${id}-sub`);
  note.textContent = sub;
  note.classList.toggle("warn", Boolean(warn));
}

function renderTotals(body, empty) {
  const runs = body.totalExecutions;
  const steps = billedSteps(body);
  if (empty) {
    for (const id of ["runs", "steps", "failed", "cost"]) card(id, "—", "no runs in this range");
  } else {
    const other = runs - body.successfulExecutions - body.failedExecutions;
    card("runs", count(runs), `${count(body.successfulExecutions)} completed` +
      (other > 0 ? ` · ${count(other)} running or cancelled` : ""));
    card("steps", count(steps), `${(steps / runs).toFixed(1)} per run · avg run ${duration(body.averageDurationMs)}`);
    card("failed", count(body.failedExecutions), `${percent(body.failedExecutions, runs)} of runs`,
      body.failedExecutions > 0);
    card("cost", usd(body.estimatedCostUsd), "estimated for this range");
  }
  const quota = body.quota || {};
  const forecast = `forecast ${count(quota.forecastStepsThisMonth)} by month end`;
  if (quota.monthlyStepQuota) {
    card(
      "quota",
      `${Number(quota.percentUsed).toFixed(1)}%`,
      `${count(quota.stepsThisMonth)} of ${count(quota.monthlyStepQuota)} steps · ${forecast}` +
        (quota.forecastExceedsQuota ? ", over the quota" : ""),
      quota.forecastExceedsQuota,
    );
  } else {
    card("quota", `${count(quota.stepsThisMonth)} steps`, `${forecast} · no quota set`);
  }
}

function days(range, byDay, field) {
  const values = new Map(byDay.map((d) => [d.date, d[field]]));
  const out = [];
  const last = Date.parse(`${range.lastDay}T00:00:00Z`);
  for (let t = Date.parse(`${range.firstDay}T00:00:00Z`); t <= last; t += DAY_MS) {
    const day = isoDay(new Date(t));
    out.push({ day, value: Number(values.get(day) || 0) });
  }
  return out;
}

function renderChart(container, unit, series) {
  // drawn at the container's pixel width, so text keeps its size on any screen
  const width = Math.max(280, Math.round(container.clientWidth || 640));
  const height = width < 480 ? 130 : 150;
  const left = 44;
  const bottom = 20;
  const top = 26;
  const plotW = width - left - 4;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...series.map((d) => d.value));
  const total = series.reduce((sum, d) => sum + d.value, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${unit} per day: ${count(total)} in total, at most ${count(max)} in a day`,
  });
  chart.append(svg("text", { x: 0, y: 12, class: "title" }, `${unit[0].toUpperCase()}${unit.slice(1)} per day`));
  chart.append(svg("text", { x: left - 6, y: top + 4, class: "axis", "text-anchor": "end" }, count(max)));
  chart.append(svg("text", { x: left - 6, y: top + plotH, class: "axis", "text-anchor": "end" }, "0"));
  chart.append(svg("line", { x1: left, x2: width - 4, y1: top + plotH + 0.5, y2: top + plotH + 0.5, class: "base" }));
  chart.append(svg("line", { x1: left, x2: width - 4, y1: top + 0.5, y2: top + 0.5, class: "grid" }));
  const slot = plotW / series.length;
  const gap = slot > 6 ? Math.min(4, slot * 0.2) : 0;
  series.forEach((d, i) => {
    const h = (d.value / max) * plotH;
    const bar = svg("rect", {
      x: (left + i * slot + gap / 2).toFixed(2),
      y: (top + plotH - h).toFixed(2),
      width: Math.max(0.5, slot - gap).toFixed(2),
      height: h.toFixed(2),
      class: `bar ${unit}`,
    });
    bar.append(svg("title", {}, `${d.day}: ${count(d.value)} ${unit}`));
    chart.append(bar);
  });
  const labels = series.length > 1 ? [0, series.length - 1] : [0];
  for (const i of labels) {
    const anchor = i === 0 ? "start" : "end";
    const x = i === 0 ? left : width - 4;
    chart.append(svg("text", { x, y: height - 4, class: "axis", "text-anchor": anchor }, series[i].day));
  }
  container.replaceChildren(chart);
}

function renderCharts() {
  const { body, range } = view;
  renderChart($("chart-runs"), "runs", days(range, body.byDay, "executions"));
  renderChart($("chart-steps"), "steps", days(range, body.byDay, "steps"));
}

function renderFunctions() {
  const rows = view.body.byFunction.map((f) => ({
    ...f,
    failed: f.failed ?? 0,
    failureRate: f.count > 0 ? (f.failed ?? 0) / f.count : 0,
  }));
  const { key, dir } = view.sort;
  rows.sort((a, b) => {
    const x = a[key] ?? -1;
    const y = b[key] ?? -1;
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return order * dir || a.functionId.localeCompare(b.functionId);
  });
  const body = $("functions").tBodies[0];
  body.replaceChildren(
    ...rows.map((f) => {
      const name = el("td", { "data-label": "Function" }, el("span", { class: "id" }, f.functionId));
      if (f.functionName && !f.functionId.endsWith(f.functionName)) {
        name.append(el("span", { class: "muted small" }, ` ${f.functionName}`));
      }
      return el(
        "tr",
        { "data-function": f.functionId },
        name,
        el("td", { class: "num" }, count(f.count)),
        el("td", { class: "num" }, count(f.steps)),
        el("td", { class: "num" }, duration(f.avgDuration)),
        el("td", { class: "num" }, duration(f.p95DurationMs)),
        el(
          "td",
          { class: `num${f.failed ? " warn" : ""}` },
          `${count(f.failed)} `,
          el("span", { class: "rate" }, `(${percent(f.failed, f.count)})`),
        ),
      );
    }),
  );
  for (const th of $("functions").tHead.rows[0].cells) {
    th.setAttribute("aria-sort", th.dataset.key === key ? (dir > 0 ? "ascending" : "descending") : "none");
  }
}

function renderTriggers(split, runs) {
  $("triggers").replaceChildren(
    ...split.map((t) => {
      const fill = el("span", { class: "fill" });
      fill.style.width = `${(100 * t.count) / Math.max(1, runs)}%`;
      return el(
        "li",
        {},
        el("span", { class: "label" }, t.triggerType),
        el("span", { class: "track" }, fill),
        el("span", { class: "num" }, `${count(t.count)} · ${percent(t.count, runs)}`),
      );
    }),
  );
}

function renderAlerts(alerts) {
  const list = $("alerts");
  const empty = $("alerts-empty");
  if (alerts === null) {
    list.replaceChildren();
    empty.textContent = "Usage alerts are shown to admins.";
    empty.hidden = false;
    return;
  }
  empty.textContent = "No alert was recorded in this range.";
  empty.hidden = alerts.length > 0;
  list.replaceChildren(
    ...alerts.map((a) =>
      el(
        "li",
        {},
        el("strong", {}, a.kind === "steps" ? "Steps" : "Failures"),
        ` ${count(a.observed)} over the limit of ${count(a.threshold)} in the hour to ${utc(a.windowEnd)}`,
        el("span", { class: "muted" }, a.notified ? " · webhook notified" : " · not notified"),
      ),
    ),
  );
}

function renderFailures(failures) {
  $("failures-empty").hidden = failures.length > 0;
  $("failures").hidden = failures.length === 0;
  $("failures").tBodies[0].replaceChildren(
    ...failures.map((f) =>
      el(
        "tr",
        {},
        el("td", { class: "nowrap when" }, utc(f.startedAt)),
        el("td", { class: "id" }, f.functionId),
        el("td", { class: "error" }, f.errorMessage || "(no message)"),
        el("td", { class: "id small" }, f.runId),
      ),
    ),
  );
}

// --- sign-in and events ----------------------------------------------------------------------

function signIn(token) {
  view.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("signin").hidden = true;
  $("filters").hidden = false;
  load();
}

function signOut({ keepBanner } = {}) {
  view.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("signin").hidden = false;
  $("filters").hidden = true;
  $("report").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  $("user").value = "";
  $("function").value = "";
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
    const custom = $("range").value === "custom";
    for (const node of document.querySelectorAll(".custom")) node.hidden = !custom;
    if (custom && !$("start").value) {
      $("end").value = isoDay(new Date());
      $("start").value = isoDay(new Date(Date.now() - 6 * DAY_MS));
    }
    load();
  });
  for (const id of ["start", "end", "function", "user"]) $(id).addEventListener("change", load);
  $("refresh").addEventListener("click", load);
  for (const th of $("functions").tHead.rows[0].cells) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      const text = th.dataset.type === "text";
      view.sort = view.sort.key === key
        ? { key, dir: -view.sort.dir }
        : { key, dir: text ? 1 : -1 };
      if (view.body) renderFunctions();
    });
  }
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (view.range && document.body.dataset.state === "loaded") renderCharts();
    }, 150);
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved);
  } else {
    signOut();
  }
}

start();
