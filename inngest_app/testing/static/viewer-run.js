// The run viewer's run: its facts, timeline (queue time, flow control's reasons, each step as a
// bar from the run's start), steps with outputs and errors, and the Rerun and Cancel buttons;
// and the Invoke form. On a phone the run opens in place, under the run that was tapped.
"use strict";

const PHONE = window.matchMedia("(max-width: 800px)");

function homeRunPanel() {
  // back to its column (before the list it may sit in is redrawn)
  const panel = $("run");
  if (panel.parentElement !== $("run-home")) $("run-home").append(panel);
}

function placeRunPanel() {
  const panel = $("run");
  const button = view.runId && PHONE.matches ? document.querySelector(`.runs button[data-run="${CSS.escape(view.runId)}"]`) : null;
  if (button) {
    button.closest("li").append(panel);
    panel.dataset.inPlace = "true";
  } else {
    homeRunPanel();
    panel.dataset.inPlace = "false";
  }
}

async function act(url, body) {
  // a JSON POST (the executor refuses other content types), with the event key when required
  const headers = { "Content-Type": "application/json" };
  if (!$("key-field").hidden) headers["X-Inngest-Event-Key"] = $("event-key").value.trim();
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body || {}) });
  let answer = {};
  try {
    answer = await response.json();
  } catch (_) {
    // not JSON: the status says it
  }
  if (!response.ok) throw new Error(`${response.status}: ${answer.error || response.statusText}`);
  return answer;
}

async function rerun() {
  const result = $("action-result");
  try {
    const { runId } = await act(`/viewer/api/runs/${encodeURIComponent(view.runId)}/rerun`);
    result.textContent = `Rerun started: ${runId}`;
    select(runId, true);
  } catch (error) {
    result.textContent = `Refused (${error.message})`;
  }
}

async function cancelRun() {
  const result = $("action-result");
  try {
    const { status } = await act(`/viewer/api/runs/${encodeURIComponent(view.runId)}/cancel`);
    result.textContent = status === "cancelled" ? "Cancelled." : `Already ${status}.`;
    refresh();
  } catch (error) {
    result.textContent = `Refused (${error.message})`;
  }
}

async function invoke(event) {
  event.preventDefault();
  const result = $("invoke-result");
  const data = jsonObjectOf("invoke-data", result);
  if (data === null) return;
  try {
    const { runId } = await act("/viewer/api/invoke", { functionId: $("invoke-function").value, data });
    result.textContent = `Invoked: run ${runId}`;
    result.className = "muted";
    select(runId, true);
  } catch (error) {
    result.textContent = `Refused (${error.message})`;
    result.className = "warn";
  }
}

function renderTimeline(t) {
  const total = Math.max(1, t.durationMs, ...t.bars.map((b) => b.startMs + b.durationMs));
  $("reasons").replaceChildren(
    ...t.reasons.map((r) =>
      el("li", { "data-reason": r.reason }, el("strong", {}, r.label), ` at +${duration(r.atMs)}`, r.detail ? ` · ${r.detail}` : ""),
    ),
  );
  const rows = [];
  if (t.queuedMs > 0) rows.push({ name: "queued", kind: "waiting to start", startMs: 0, durationMs: t.queuedMs, waiting: true, ok: true, attempt: 1 });
  rows.push(...t.bars);
  $("timeline").replaceChildren(
    ...rows.map((bar) => {
      const fill = el("span", { class: `fill${bar.waiting ? " wait" : ""}${bar.ok ? "" : " bad"}` });
      fill.style.left = `${(100 * bar.startMs) / total}%`;
      fill.style.width = `${Math.max(0.5, (100 * bar.durationMs) / total)}%`;
      const attempt = bar.attempt > 1 ? ` · attempt ${bar.attempt} (retry ${bar.attempt - 1})` : "";
      return el(
        "li",
        { "data-step": bar.name, "data-start-ms": bar.startMs, "data-duration-ms": bar.durationMs, "data-kind": bar.kind },
        el("span", { class: "label" }, el("span", { class: "id" }, bar.name), el("span", { class: "kind" }, ` ${bar.kind}${attempt}${bar.pending ? " · pending" : ""}`)),
        el("span", { class: "track" }, fill),
        el("span", { class: "when" }, `+${duration(bar.startMs)} · ${duration(bar.durationMs)}`),
      );
    }),
  );
}

function startRun() {
  $("rerun").addEventListener("click", rerun);
  $("cancel").addEventListener("click", cancelRun);
  $("invoke").addEventListener("submit", invoke);
  PHONE.addEventListener("change", placeRunPanel);
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
  $("cancel").hidden = run.done;
  renderTimeline(run.timeline);
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

