// The runs dashboard: the registry's runs with their reports (an interrupted one can be resumed
// or discarded), and training jobs started here, followed live through server-sent events
// (GET /api/jobs/{id}/events).
"use strict";

const $ = id => document.getElementById(id);
const pct = v => v == null ? "–" : (v * 100).toFixed(2) + "%";
const num = (v, digits) => v == null ? "–" : Number(v).toFixed(digits);

function cell(row, text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (text instanceof Node) td.appendChild(text); else td.textContent = text ?? "–";
  row.appendChild(td);
  return td;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.detail || response.statusText);
  return answer;
}

// ---- the registry ---------------------------------------------------------------------------
async function loadRuns() {
  const data = await api("GET", "/api/runs");
  $("registry").textContent = data.problem
    ? `Cannot read the registry ${data.registry}: ${data.problem}`
    : data.runs.length
      ? `${data.runs.length} run(s) in ${data.registry}`
      : `No runs yet in ${data.registry}: run a sweep (dotnet fsi build.fsx -t Sweep) or train here.`;
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const { run, state, resumable, reportUrl, sweepReportUrl, hasModel } of data.runs) {
    const spec = run.spec;
    const tr = document.createElement("tr");
    cell(tr, run.id.slice(0, 10)).title = run.id;
    cell(tr, sweepReportUrl ? link(sweepReportUrl, run.sweep) : run.sweep);
    // An interrupted run's actions sit beside its state, where the eye already is.
    const status = cell(tr, resumable ? "interrupted — resumable " : state, "status-" + state);
    if (resumable) {
      status.appendChild(button("resume", () => runAction(run.id, "resume")));
      status.appendChild(button("discard", () => runAction(run.id, "discard")));
    }
    cell(tr, spec.preset + (spec.width && spec.width !== 1 ? ` ×${spec.width}` : ""));
    cell(tr, spec.activation);
    cell(tr, spec.optimizer.name);
    // Stored as float32: 0.15 comes back as 0.15000000596…, so show the shortest faithful form.
    cell(tr, String(Number(spec.learningRate.toPrecision(6))), "num");
    cell(tr, spec.batchSize, "num");
    cell(tr, `${run.epochsDone ?? 0}/${spec.epochs}`, "num");
    cell(tr, run.parameters?.toLocaleString("en"), "num");
    cell(tr, pct(run.finalTestAccuracy), "num");
    cell(tr, pct(run.bestTestAccuracy), "num");
    cell(tr, num(run.trainSeconds, 0), "num");
    cell(tr, reportUrl ? link(reportUrl, "report") : "–");
    cell(tr, hasModel ? button("serve", () => useModel({ run: run.id })) : "");
    body.appendChild(tr);
  }
}

// Resumes an interrupted run (a job followed here) or discards it (its checkpoint too).
async function runAction(id, action) {
  if (action === "discard" && !confirm(`Discard run ${id} and its checkpoint?`)) return;
  try {
    const answer = await api("POST", `/api/runs/${encodeURIComponent(id)}/${action}`);
    if (action === "resume") { follow(answer.id); loadJobs(); }
    loadRuns();
  } catch (err) {
    alert(`Could not ${action} run ${id}: ${err.message}`);
  }
}

// ---- jobs -----------------------------------------------------------------------------------
async function loadJobs() {
  const jobs = await api("GET", "/api/jobs");
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  for (const job of jobs) {
    const tr = document.createElement("tr");
    cell(tr, job.id);
    cell(tr, job.runId);
    cell(tr, job.status);
    cell(tr, job.request.preset);
    cell(tr, job.request.optimizer);
    cell(tr, job.request.epochs, "num");
    cell(tr, pct(job.testAccuracy), "num");
    cell(tr, job.startedAt);
    const actions = cell(tr, "");
    actions.appendChild(button("follow", () => follow(job.id)));
    if (job.modelPath) actions.appendChild(button("serve", () => useModel({ job: job.id })));
    if (job.reportUrl) actions.appendChild(link(job.reportUrl, "report"));
    body.appendChild(tr);
  }
  const live = jobs.find(j => !["finished", "failed", "cancelled"].includes(j.status));
  if (live && !source) follow(live.id);
}

function formRequest() {
  const form = new FormData($("train-form"));
  const request = {};
  for (const [key, value] of form.entries()) {
    if (value === "") continue;
    request[key] = ["preset", "activation", "optimizer", "schedule"].includes(key) ? value : Number(value);
  }
  return request;
}

$("start").addEventListener("click", async () => {
  $("form-error").hidden = true;
  try {
    const job = await api("POST", "/api/jobs", formRequest());
    follow(job.id);
    loadJobs();
  } catch (err) {
    $("form-error").textContent = err.message;
    $("form-error").hidden = false;
  }
});

let source = null, followed = null;

function follow(id) {
  if (source) source.close();
  followed = id;
  $("job-panel").hidden = false;
  $("job-id").textContent = id;
  $("job-status").textContent = "connecting";
  $("job-progress").value = 0;
  $("job-line").textContent = "";
  $("job-log").textContent = "";
  $("job-epochs").tBodies[0].replaceChildren();
  $("use-job").hidden = true;
  $("use-result").textContent = "";
  $("cancel").hidden = false;
  source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  source.addEventListener("status", e => { $("job-status").textContent = JSON.parse(e.data).status; });
  source.addEventListener("log", e => appendLog(JSON.parse(e.data).line));
  source.addEventListener("progress", e => showProgress(JSON.parse(e.data)));
  source.addEventListener("epoch", e => showEpoch(JSON.parse(e.data)));
  source.addEventListener("done", e => {
    const done = JSON.parse(e.data);
    $("job-status").textContent = done.status;
    $("cancel").hidden = true;
    if (done.status === "finished") {
      $("job-progress").value = 1;
      // A run asked for again is found complete in the registry: its model is offered, nothing trained.
      $("job-line").textContent = (done.note ? done.note + " — " : "")
        + `run ${done.runId}: test accuracy ${pct(done.testAccuracy)} — model in ${done.modelPath} `;
      if (done.reportUrl) $("job-line").appendChild(link(done.reportUrl, "report"));
      $("use-job").hidden = false;
    } else if (done.error) {
      $("job-line").textContent = done.error;
    }
    source.close();
    source = null;
    loadJobs();
    loadRuns().catch(() => {}); // a finished job is a registry run now
  });
  source.onerror = () => {
    if (source && source.readyState === EventSource.CLOSED) $("job-status").textContent = "disconnected";
  };
}

function appendLog(line) {
  const log = $("job-log");
  log.textContent += line + "\n";
  log.scrollTop = log.scrollHeight;
}

function showProgress(p) {
  const done = ((p.epoch - 1) * p.epochSamples + p.samples) / (p.epochs * p.epochSamples);
  $("job-progress").value = done;
  $("job-line").textContent =
    `epoch ${p.epoch}/${p.epochs}: ${p.samples}/${p.epochSamples} images, loss ${num(p.loss, 4)}, accuracy ${pct(p.accuracy)}, ` +
    `${num(p.imagesPerSecond, 0)} images/s, about ${num(p.etaSeconds, 0)} s left`;
}

function showEpoch(m) {
  const tr = document.createElement("tr");
  cell(tr, m.epoch);
  cell(tr, num(m.trainLoss, 4), "num");
  cell(tr, pct(m.trainAccuracy), "num");
  cell(tr, num(m.testLoss, 4), "num");
  cell(tr, pct(m.testAccuracy), "num");
  cell(tr, num(m.seconds, 1), "num");
  cell(tr, num(m.imagesPerSecond, 0), "num");
  $("job-epochs").tBodies[0].appendChild(tr);
}

$("cancel").addEventListener("click", () => { if (followed) api("POST", `/api/jobs/${encodeURIComponent(followed)}/cancel`).catch(() => {}); });
$("use-job").addEventListener("click", () => useModel({ job: followed }));

async function useModel(which) {
  try {
    const model = await api("POST", "/api/model/use", which);
    $("use-result").textContent = `now serving ${model.path}`;
    describeModel();
  } catch (err) {
    alert("Could not serve that model: " + err.message);
  }
}

async function describeModel() {
  try {
    const m = await api("GET", "/api/model");
    $("model-info").textContent = `Serving ${m.name} (${m.parameters.toLocaleString("en")} parameters, test accuracy ${pct(m.testAccuracy)}) from ${m.path}`;
  } catch (err) {
    $("model-info").textContent = "";
  }
}

loadRuns().catch(err => { $("registry").textContent = "Could not read the runs: " + err.message; });
loadJobs().catch(() => {});
describeModel();
