// The usage dashboard's drawing: totals with the previous period, charts (hourly for ranges of
// two days or less), the per-function table, trigger types, alerts and latest failures. Every
// number that stands for runs links to them (a hash the runs list reads: dashboard-runs.js).
"use strict";

function render(body, range) {
  const admin = Array.isArray(body.byUser);
  view.admin = admin;
  $("who").textContent = admin ? "admin: every user's runs" : "your runs only";
  $("signout").hidden = false;
  $("user-filter").hidden = !admin;
  for (const id of body.functions || []) view.functions.add(id);
  for (const f of body.byFunction) view.functions.add(f.functionId);
  setFunctionChoice(state.fn);
  if (admin && !state.user) {
    $("users").replaceChildren(...body.byUser.map((u) => el("option", { value: u.userId })));
  }
  const runs = body.totalExecutions;
  const empty = runs === 0;
  if (empty) {
    banner("empty", `No runs recorded from ${range.firstDay} to ${range.lastDay}${filterText()}.`);
  } else {
    banner("", "");
  }
  view.range = range;
  renderTotals(body, empty);
  $("report").hidden = false; // shown before drawing: the charts measure their width
  $("data").hidden = empty;
  if (!empty) {
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
  if (state.fn) parts.push(`function ${state.fn}`);
  if (state.user && view.admin) parts.push(`user ${state.user}`);
  return parts.length ? ` for ${parts.join(" and ")}` : "";
}

function billedSteps(body) {
  return body.billedSteps ?? body.totalSteps;
}

function change(now, before) {
  // "+12% vs the previous period", or the previous figure when it was zero
  if (before === null || before === undefined) return "";
  if (Number(before) === 0) return Number(now) === 0 ? "same as the previous period" : "none in the previous period";
  const delta = (100 * (Number(now) - Number(before))) / Number(before);
  const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
  return `${sign}${Math.abs(delta).toFixed(0)}% vs the previous period (${count(before)})`;
}

function card(id, big, sub, warn, link) {
  const target = $(`t-${id}`);
  if (link) {
    target.replaceChildren(el("a", { href: link, class: "drill" }, big));
  } else {
    target.textContent = big;
  }
  const note = $(`t-${id}-sub`);
  note.textContent = sub;
  note.classList.toggle("warn", Boolean(warn));
}

function previousLine(id, now, key) {
  const previous = view.body.previous;
  $(`t-${id}-prev`).textContent = previous ? change(now, previous[key]) : "";
}

function renderTotals(body, empty) {
  const runs = body.totalExecutions;
  const steps = billedSteps(body);
  if (empty) {
    for (const id of ["runs", "steps", "failed", "cost"]) card(id, "—", "no runs in this range");
  } else {
    const other = runs - body.successfulExecutions - body.failedExecutions;
    card("runs", count(runs), `${count(body.successfulExecutions)} completed` +
      (other > 0 ? ` · ${count(other)} running or cancelled` : ""), false,
    linkTo({ runs: { fn: "", status: "", from: "", to: "" }, run: "" }));
    card("steps", count(steps), `${(steps / runs).toFixed(1)} per run · avg run ${duration(body.averageDurationMs)}`);
    card("failed", count(body.failedExecutions), `${percent(body.failedExecutions, runs)} of runs`,
      body.failedExecutions > 0, linkTo({ runs: { fn: "", status: "failed", from: "", to: "" }, run: "" }));
    card("cost", usd(body.estimatedCostUsd), "estimated for this range");
  }
  previousLine("runs", runs, "totalExecutions");
  previousLine("steps", steps, "billedSteps");
  previousLine("failed", body.failedExecutions, "failedExecutions");
  previousLine("cost", body.estimatedCostUsd, "estimatedCostUsd");
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

function series(range, body, field) {
  // one bar per UTC hour (ranges of two days or less) or per UTC day, empty ones too
  if (range.hourly && Array.isArray(body.byHour)) {
    const values = new Map(body.byHour.map((h) => [h.hour, h[field]]));
    const out = [];
    const first = Math.floor(range.startMs / HOUR_MS) * HOUR_MS;
    for (let t = first; t < range.endMs; t += HOUR_MS) {
      const hour = `${new Date(t).toISOString().slice(0, 13)}:00:00Z`;
      out.push({ label: `${hour.slice(0, 10)} ${hour.slice(11, 16)}`, value: Number(values.get(hour) || 0),
        from: new Date(t).toISOString(), to: new Date(t + HOUR_MS).toISOString() });
    }
    return { unit: "hour", bars: out };
  }
  const values = new Map(body.byDay.map((d) => [d.date, d[field]]));
  const out = [];
  const last = Date.parse(`${range.lastDay}T00:00:00Z`);
  for (let t = Date.parse(`${range.firstDay}T00:00:00Z`); t <= last; t += DAY_MS) {
    const day = isoDay(new Date(t));
    out.push({ label: day, value: Number(values.get(day) || 0), from: day, to: day });
  }
  return { unit: "day", bars: out };
}

function renderChart(container, what, data) {
  // drawn at the container's pixel width, so text keeps its size on any screen
  const { unit, bars } = data;
  const width = Math.max(280, Math.round(container.clientWidth || 640));
  const height = width < 480 ? 130 : 150;
  const left = 44;
  const bottom = 20;
  const top = 26;
  const plotW = width - left - 4;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...bars.map((d) => d.value));
  const total = bars.reduce((sum, d) => sum + d.value, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "data-unit": unit,
    "aria-label": `${what} per ${unit}: ${count(total)} in total, at most ${count(max)} in a ${unit}`,
  });
  chart.append(svg("text", { x: 0, y: 12, class: "title" }, `${what[0].toUpperCase()}${what.slice(1)} per ${unit}`));
  chart.append(svg("text", { x: left - 6, y: top + 4, class: "axis", "text-anchor": "end" }, count(max)));
  chart.append(svg("text", { x: left - 6, y: top + plotH, class: "axis", "text-anchor": "end" }, "0"));
  chart.append(svg("line", { x1: left, x2: width - 4, y1: top + plotH + 0.5, y2: top + plotH + 0.5, class: "base" }));
  chart.append(svg("line", { x1: left, x2: width - 4, y1: top + 0.5, y2: top + 0.5, class: "grid" }));
  const slot = plotW / bars.length;
  const gap = slot > 6 ? Math.min(4, slot * 0.2) : 0;
  bars.forEach((d, i) => {
    const h = (d.value / max) * plotH;
    const bar = svg("rect", {
      x: (left + i * slot + gap / 2).toFixed(2),
      y: (top + plotH - h).toFixed(2),
      width: Math.max(0.5, slot - gap).toFixed(2),
      height: h.toFixed(2),
      class: `bar ${what}`,
      "data-from": d.from,
    });
    bar.append(svg("title", {}, `${d.label}: ${count(d.value)} ${what}`));
    if (d.value > 0) {
      // a bar with runs leads to them (the bar's whole column is the target)
      const link = svg("a", { href: linkTo({ runs: { fn: "", status: "", from: d.from, to: d.to }, run: "" }), class: "bar-link" });
      link.append(svg("rect", { x: (left + i * slot).toFixed(2), y: top, width: slot.toFixed(2), height: plotH, class: "hit" }), bar);
      chart.append(link);
    } else {
      chart.append(bar);
    }
  });
  const labels = bars.length > 1 ? [0, bars.length - 1] : [0];
  for (const i of labels) {
    const anchor = i === 0 ? "start" : "end";
    const x = i === 0 ? left : width - 4;
    chart.append(svg("text", { x, y: height - 4, class: "axis", "text-anchor": anchor }, bars[i].label));
  }
  container.replaceChildren(chart);
}

function renderCharts() {
  const { body, range } = view;
  renderChart($("chart-runs"), "runs", series(range, body, "executions"));
  renderChart($("chart-steps"), "steps", series(range, body, "billedSteps"));
}

function renderFunctions() {
  const previous = (view.body.previous || {}).byFunction || {};
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
      const runsOf = (status) => linkTo({ runs: { fn: f.functionId, status, from: "", to: "" }, run: "" });
      const name = el("td", { "data-label": "Function" }, el("a", { class: "id", href: runsOf("") }, f.functionId));
      if (f.functionName && !f.functionId.endsWith(f.functionName)) {
        name.append(el("span", { class: "muted small" }, ` ${f.functionName}`));
      }
      const before = previous[f.functionId];
      return el(
        "tr",
        { "data-function": f.functionId },
        name,
        el("td", { class: "num", title: `previous period: ${count(before ? before.count : 0)}` }, count(f.count)),
        el("td", { class: "num" }, count(f.billedSteps ?? f.steps)),
        el("td", { class: "num" }, duration(f.avgDuration)),
        el("td", { class: "num" }, duration(f.p95DurationMs)),
        el(
          "td",
          { class: `num${f.failed ? " warn" : ""}` },
          f.failed ? el("a", { href: runsOf("failed"), class: "drill" }, count(f.failed)) : count(f.failed),
          " ",
          el("span", { class: "rate" }, `(${percent(f.failed, f.count)})`),
        ),
        el("td", { class: "num cost" }, usd(f.estimatedCostUsd)),
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
        { "data-run": f.runId },
        el("td", { class: "nowrap when" }, utc(f.startedAt)),
        el("td", { class: "id" }, f.functionId),
        el("td", { class: "error" }, f.errorMessage || "(no message)"),
        el("td", { class: "id small" }, el("a", { href: linkTo({ run: f.runId }) }, f.runId)),
      ),
    ),
  );
}

function startDrawing() {
  for (const th of $("functions").tHead.rows[0].cells) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      const text = th.dataset.type === "text";
      view.sort = view.sort.key === key ? { key, dir: -view.sort.dir } : { key, dir: text ? 1 : -1 };
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
}
