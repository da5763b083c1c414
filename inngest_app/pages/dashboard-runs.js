// The usage dashboard's runs list (GET /api/inngest/monitoring/runs, keyset-paged: "More"
// follows the cursor) and one run (GET .../runs/{runId}) with its link to the executor's run
// viewer or Inngest Cloud. Both open from the URL hash (`runs=1&runs.fn=...`, `run=<id>`).
"use strict";

const runsView = { loads: 0, cursor: null, runLoads: 0 };

function runsQuery() {
  const range = chosenRange();
  if (range.error) return null;
  const drill = state.runs;
  const params = new URLSearchParams();
  params.set("from", drill.from || range.runs.from);
  const to = drill.to || range.runs.to;
  if (to) params.set("to", to);
  const fn = drill.fn || state.fn;
  if (fn) params.set("functionId", fn);
  if (drill.status) params.set("status", drill.status);
  if (state.user && view.admin !== false) params.set("userId", state.user);
  params.set("limit", "50");
  return params;
}

function runsTitle() {
  const drill = state.runs;
  const status = drill.status;
  const parts = [status ? `${status[0].toUpperCase()}${status.slice(1)} runs` : "Runs"];
  const fn = drill.fn || state.fn;
  if (fn) parts.push(`of ${fn}`);
  if (drill.from) {
    const day = drill.from.length === 10;
    parts.push(day ? `on ${drill.from}` : `from ${utc(drill.from)} to ${utc(drill.to)}`);
  } else {
    parts.push("in this range");
  }
  if (state.user && view.admin) parts.push(`for user ${state.user}`);
  return parts.join(" ");
}

async function loadRuns(more) {
  const panel = $("runs-panel");
  if (!state.runs || !view.token) {
    panel.hidden = true;
    return;
  }
  const params = runsQuery();
  if (!params) return;
  if (more && runsView.cursor) params.set("cursor", runsView.cursor);
  const mine = ++runsView.loads;
  panel.hidden = false;
  panel.dataset.state = "loading";
  $("runs-title").textContent = runsTitle();
  $("runs-status").value = state.runs.status;
  const answer = await getJSON(`${API}/runs?${params}`);
  if (mine !== runsView.loads) return;
  if (!answer.ok) {
    $("runs-error").textContent = answer.error;
    $("runs-error").hidden = false;
    panel.dataset.state = "error";
    return;
  }
  $("runs-error").hidden = true;
  const { runs, nextCursor } = answer.body;
  runsView.cursor = nextCursor;
  const rows = runs.map(runRow);
  const body = $("runs").tBodies[0];
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  $("runs-empty").hidden = body.rows.length > 0;
  $("runs").hidden = body.rows.length === 0;
  $("runs-more").hidden = !nextCursor;
  panel.dataset.state = "loaded";
  if (!more && !state.run) panel.scrollIntoView({ block: "nearest" });
}

function runRow(run) {
  return el(
    "tr",
    { "data-run": run.runId, "aria-current": String(run.runId === state.run) },
    el("td", { class: "nowrap when" }, utc(run.startedAt)),
    el("td", { class: "id" }, el("a", { href: linkTo({ run: run.runId }) }, run.functionId)),
    el("td", {}, el("span", { class: `badge ${run.status}` }, run.status)),
    el("td", { class: "num" }, duration(run.durationMs)),
    el("td", { class: "num" }, count(run.billedSteps)),
    el("td", { class: "error" }, run.errorMessage || ""),
  );
}

async function loadRun() {
  const panel = $("run-panel");
  for (const row of $("runs").tBodies[0].rows) {
    row.setAttribute("aria-current", String(row.dataset.run === state.run));
  }
  if (!state.run || !view.token) {
    panel.hidden = true;
    return;
  }
  const mine = ++runsView.runLoads;
  panel.hidden = false;
  panel.dataset.state = "loading";
  $("run-title").textContent = state.run;
  const answer = await getJSON(`${API}/runs/${encodeURIComponent(state.run)}`);
  if (mine !== runsView.runLoads) return;
  if (!answer.ok) {
    $("run-facts").replaceChildren();
    $("run-steps").replaceChildren();
    $("run-link").hidden = true;
    $("run-error").textContent = answer.error;
    $("run-error").hidden = false;
    panel.dataset.state = "error";
    return;
  }
  renderRun(answer.body);
  panel.dataset.state = "loaded";
  panel.scrollIntoView({ block: "nearest" });
}

function renderRun(run) {
  const facts = [
    ["Function", run.functionId],
    ["Status", el("span", { class: `badge ${run.status}` }, run.status)],
    ["Started", utc(run.startedAt)],
    ["Ended", run.completedAt ? utc(run.completedAt) : "—"],
    ["Duration", duration(run.durationMs)],
    ["Attempts", count(run.attempts)],
    ["Steps", `${count(run.billedSteps)} billed (${count(run.steps)} step.run)`],
    ["Trigger", `${run.triggerType}${run.eventName ? ` · ${run.eventName}` : ""}`],
  ];
  if (run.userId) facts.push(["User", run.userId]);
  $("run-facts").replaceChildren(
    ...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", { "data-fact": name.toLowerCase() }, value)]),
  );
  const link = $("run-link");
  link.href = run.runUrl;
  link.textContent = `Open this run in ${run.runUrlLabel || "the executor"}`;
  link.hidden = !run.runUrl;
  const error = [run.errorMessage, run.errorStack].filter(Boolean).join("\n");
  $("run-error").textContent = error;
  $("run-error").hidden = !error;
  $("run-steps").replaceChildren(
    ...run.stepsReported.map((s) => el("li", {}, el("span", { class: "id" }, s.stepId), ` ${s.kind}`)),
  );
  $("run-no-steps").hidden = run.stepsReported.length > 0;
}

function startRuns() {
  $("runs-more").addEventListener("click", () => loadRuns(true));
  $("runs-close").addEventListener("click", () => go({ runs: null, run: "" }));
  $("run-close").addEventListener("click", () => go({ run: "" }));
  $("runs-status").addEventListener("change", () => go({ runs: { ...state.runs, status: $("runs-status").value } }));
}
