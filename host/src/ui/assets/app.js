// baton ui: the pipeline, its gates and its memory. Plain JavaScript, no build step;
// every piece of data enters the page as text (textContent), never as markup.
"use strict";

const TOKEN = (() => {
  const meta = document.querySelector('meta[name="baton-token"]').content;
  if (meta) return meta;
  const m = location.hash.match(/token=([^&]+)/);
  if (m) sessionStorage.setItem("baton-token", m[1]);
  return sessionStorage.getItem("baton-token") || "";
})();

// ---- helpers -----------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    // Styles through the CSSOM: the page's policy refuses style attributes.
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, options) {
  const headers = { "Accept": "application/json" };
  if (TOKEN) headers["X-Baton-Token"] = TOKEN;
  const init = Object.assign({ headers }, options || {});
  if (init.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const e = new Error(body.error || response.statusText);
    e.body = body;
    throw e;
  }
  return body;
}

const q = encodeURIComponent;
const json = (v) => JSON.stringify(v, null, 2);
const when = (t) => (t ? new Date(t).toLocaleString() : "");
const short = (v, n) => { const t = typeof v === "string" ? v : JSON.stringify(v); return t.length > n ? t.slice(0, n) + "…" : t; };

// The state a stage is drawn in: its status, with a missing output split into ready
// (everything before it is current) and waiting (on the stages named in `waiting_on`).
function stateOf(stage) {
  if (stage.running) return "running";
  if (stage.quarantined) return "quarantined";
  if (stage.state === "missing") return stage.ready ? "ready" : "waiting";
  return stage.state;
}

function badge(state) {
  return h("span", { class: "badge state-" + state, "data-state": state }, state);
}

function errorBox(e) {
  const box = h("div", { class: "message error", role: "alert" }, e.message);
  if (e.body && e.body.report) box.append(gateReport(e.body.report));
  return box;
}

// ---- routing and live updates ------------------------------------------------

const main = document.getElementById("main");
let current = null;

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/");
  document.getElementById("nav-pipeline").classList.toggle("active", !["memory", "timeline", "partitions"].includes(parts[0]));
  document.getElementById("nav-partitions").classList.toggle("active", parts[0] === "partitions");
  document.getElementById("nav-timeline").classList.toggle("active", parts[0] === "timeline");
  document.getElementById("nav-memory").classList.toggle("active", parts[0] === "memory");
  if (parts[0] === "stage" && parts[1]) current = () => stageView(decodeURIComponent(parts.slice(1).join("/")));
  else if (parts[0] === "memory") current = () => memoryView(params);
  else if (parts[0] === "timeline") current = () => timelineView(params);
  else if (parts[0] === "partitions") current = () => partitionsView(params);
  else current = () => pipelineView();
  render();
}

let rendering = false, again = false;
async function render() {
  if (rendering) { again = true; return; }
  rendering = true;
  try {
    const view = await current();
    main.replaceChildren(view);
    main.dataset.loaded = String(Date.now());
  } catch (e) {
    main.replaceChildren(errorBox(e));
  } finally {
    rendering = false;
    if (again) { again = false; render(); }
  }
}

function live() {
  const dot = document.getElementById("live");
  const source = new EventSource("/api/live" + (TOKEN ? "?token=" + q(TOKEN) : ""));
  let first = true;
  source.addEventListener("change", () => {
    dot.classList.add("on");
    if (first) { first = false; return; }
    render();
  });
  source.onerror = () => dot.classList.remove("on");
}

window.addEventListener("hashchange", route);
route();
live();

// ---- timeline ----------------------------------------------------------------

const secs = (ms) => (ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms");
let timelineTimer = null;

// A workflow: a row per stage run, a bar per attempt coloured by outcome, its gate
// verdict and commit marked, the critical path outlined; running bars grow.
async function timelineView(params) {
  const wf = params.get("workflow");
  const t = await api("/api/timeline" + (wf ? "?workflow=" + q(wf) : ""));
  const box = h("section", { id: "timeline-view" }, h("h2", {}, "Timeline"));
  if (!t.workflow_id) {
    box.append(h("p", { class: "muted" }, "No workflow has run yet: `baton run` starts one."));
    return box;
  }
  const picker = h("select", { id: "workflow-picker", onchange: (e) => { location.hash = "#/timeline?workflow=" + q(e.target.value); } },
    t.workflows.map(([id, at]) => h("option", { value: id, selected: id === t.workflow_id }, `${when(at)} · ${id}`)));
  box.append(h("p", {}, picker, ` ${t.rows.length} stage runs in ${secs(t.end_ms - t.start_ms)}`));
  const W = 960, LABEL = 240, ROW = 24, TOP = 22;
  const span = Math.max(1, t.end_ms - t.start_ms);
  const x = (ms) => LABEL + ((ms - t.start_ms) / span) * (W - LABEL - 12);
  const critical = new Set(t.critical_path);
  const height = TOP + t.rows.length * ROW + 8;
  const axis = [0, 0.25, 0.5, 0.75, 1].map((f) => s("g", { class: "tick" },
    s("line", { x1: x(t.start_ms + f * span), x2: x(t.start_ms + f * span), y1: TOP - 4, y2: height }),
    s("text", { x: x(t.start_ms + f * span), y: TOP - 8 }, secs(f * span))));
  const rows = t.rows.map((r, i) => {
    const y = TOP + i * ROW;
    const open = () => { location.hash = "#/stage/" + q(r.stage); };
    return s("g", { class: "row" + (critical.has(r.stage) ? " critical" : ""), "data-stage": r.stage, "data-outcome": r.outcome },
      s("text", { x: 4, y: y + 16, class: "label" }, short(r.stage, 32)),
      r.bars.map((b) => s("rect", { class: "bar " + b.outcome, x: x(b.start_ms), y: y + 4, rx: 3, height: ROW - 8,
        width: Math.max(2, x(b.end_ms) - x(b.start_ms)), "data-attempt": b.attempt, onclick: open },
        s("title", {}, `${r.stage}, attempt ${b.attempt}: ${b.outcome}, ${secs(b.end_ms - b.start_ms)}`))),
      r.marks.map((m) => s("circle", { class: "mark " + m.kind, cx: x(m.at_ms), cy: y + ROW / 2, r: 3.5 },
        s("title", {}, m.label))));
  });
  box.append(s("svg", { class: "timeline", width: W, height, viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": "workflow timeline" }, axis, rows),
    h("p", { class: "muted" }, "Critical path: " + t.critical_path.join(" → ")));
  // Running bars grow until their stage ends.
  clearTimeout(timelineTimer);
  if (t.rows.some((r) => r.outcome === "running")) {
    timelineTimer = setTimeout(() => { if (location.hash.startsWith("#/timeline")) render(); }, 1000);
  }
  return box;
}

// ---- pipeline ----------------------------------------------------------------

const STATES = ["fresh", "running", "stale", "ready", "waiting", "held", "failed", "quarantined", "external", "awaiting", "untracked"];

async function pipelineView() {
  const p = await api("/api/pipeline");
  document.getElementById("where").textContent = p.name + " · " + p.store;
  const counts = {};
  for (const st of p.stages) counts[stateOf(st)] = (counts[stateOf(st)] || 0) + 1;
  return h("section", { id: "pipeline-view" },
    h("h2", {}, "Pipeline ", h("span", { class: "muted" }, p.name)),
    h("p", { class: "legend" }, STATES.filter((x) => counts[x]).map((x) => h("span", {}, badge(x), " " + counts[x]))),
    h("div", { class: "graph" }, graph(p)),
    h("h3", {}, "Stages"),
    stageTable(p.stages));
}

// The stages as drawn: one node per stage as declared, a partitioned stage's runs
// (one per partition) drawn as a strip of cells in it.
function declaredStages(p) {
  const byName = new Map();
  const declaredOf = new Map(p.stages.map((st) => [st.name, st.declared]));
  for (const st of p.stages) {
    let g = byName.get(st.declared);
    if (!g) byName.set(st.declared, g = { name: st.declared, runs: [], depends_on: new Set(), first: st });
    g.runs.push(st);
    for (const d of st.depends_on) if (declaredOf.get(d) !== st.declared) g.depends_on.add(declaredOf.get(d));
  }
  for (const g of byName.values()) g.depends_on = [...g.depends_on];
  return byName;
}

// Layered drawing: a stage's column is one more than the deepest stage it reads from.
function graph(p) {
  const byName = declaredStages(p);
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const g = byName.get(name);
    const d = g && g.depends_on.length ? 1 + Math.max(...g.depends_on.map((x) => depthOf(x, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  const columns = [];
  for (const g of byName.values()) {
    const d = depthOf(g.name);
    (columns[d] = columns[d] || []).push(g);
  }
  const W = 250, H = 58, GX = 70, GY = 14;
  const pos = new Map();
  columns.forEach((col, c) => {
    col.sort((a, b) => (a.first.namespace + a.name).localeCompare(b.first.namespace + b.name));
    col.forEach((g, r) => pos.set(g.name, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) }));
  });
  const width = 20 + columns.length * (W + GX);
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY);
  const edges = [], nodes = [];
  for (const g of byName.values()) {
    const to = pos.get(g.name);
    for (const dep of g.depends_on) {
      const from = pos.get(dep);
      if (!from) continue;
      const producer = byName.get(dep).first;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      edges.push(s("path", { class: "edge", d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` },
        s("title", {}, `${producer.writes || ""} → ${g.name}`)));
    }
    const st = g.first;
    const gates = `${st.enforced} gate${st.enforced === 1 ? "" : "s"}` + (st.unchecked ? ` · ${st.unchecked} unchecked` : "");
    if (st.partition == null) {
      const state = stateOf(st);
      const last = st.last_run ? new Date(st.last_run.at).toLocaleTimeString() : "never run";
      nodes.push(s("g", { class: "node", "data-stage": st.name, "data-state": state, transform: `translate(${to.x},${to.y})`,
        onclick: () => { location.hash = "#/stage/" + q(st.name); } },
        s("title", {}, `${st.name}: ${state}${st.why ? " — " + st.why : ""}`),
        s("rect", { width: W, height: H, class: "state-" + state, fill: `var(--${state === "quarantined" ? "failed" : state})` }),
        s("text", { x: 8, y: 16, class: "title" }, short(st.name, 31)),
        s("text", { x: 8, y: 31 }, short(`${st.agent}${st.phase ? " · phase " + st.phase : ""} · ${st.namespace}`, 40)),
        s("text", { x: 8, y: 46 }, `${state} · ${gates} · ${last}`)));
      continue;
    }
    // A partitioned stage: a cell per partition, in the pipeline's order.
    const fresh = g.runs.filter((r) => stateOf(r) === "fresh").length;
    const cw = (W - 16) / g.runs.length;
    const cells = g.runs.map((r, i) => {
      const state = stateOf(r);
      return s("rect", { class: "cell state-" + state, "data-stage": r.name, "data-partition": r.partition, "data-state": state,
        x: 8 + i * cw, y: 38, width: Math.max(cw - (cw > 3 ? 1 : 0), 0.5), height: 14, fill: `var(--${state === "quarantined" ? "failed" : state})`,
        onclick: (e) => { e.stopPropagation(); location.hash = "#/stage/" + q(r.name); } },
        s("title", {}, `${r.partition}: ${state}${r.why ? " — " + r.why : ""}`));
    });
    nodes.push(s("g", { class: "node partitioned", "data-stage": g.name, "data-partitions": g.runs.length, transform: `translate(${to.x},${to.y})`,
      onclick: () => { location.hash = "#/partitions?stage=" + q(g.name); } },
      s("title", {}, `${g.name}: ${fresh} of ${g.runs.length} partitions fresh`),
      s("rect", { width: W, height: H, class: "frame" }),
      s("text", { x: 8, y: 16, class: "title" }, short(g.name, 31)),
      s("text", { x: 8, y: 31 }, short(`${st.agent}${st.phase ? " · phase " + st.phase : ""} · ${fresh}/${g.runs.length} fresh · ${gates}`, 42)),
      cells));
  }
  return s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "pipeline graph" }, edges, nodes);
}

// ---- partitions ----------------------------------------------------------------

// Stages by partitions: a row per partition, a column per partitioned stage; a cell
// opens that stage's run for that partition.
async function partitionsView(params) {
  const m = await api("/api/partitions");
  const columns = m.rows.filter((r) => r.cells.length);
  if (!m.partitions.length) {
    return h("section", { id: "partitions-view" }, h("h2", {}, "Partitions"), h("p", { class: "muted" }, "This pipeline is not partitioned: each stage runs once."));
  }
  const picked = params.get("stage");
  const cellOf = new Map(columns.map((r) => [r.stage, new Map(r.cells.map((c) => [c.partition, c]))]));
  const counts = {};
  for (const r of columns) for (const c of r.cells) counts[c.state] = (counts[c.state] || 0) + 1;
  return h("section", { id: "partitions-view" },
    h("h2", {}, "Partitions ", h("span", { class: "muted" }, `${m.partitions.length} × ${columns.length} stages`)),
    h("p", { class: "legend" }, Object.keys(counts).sort().map((x) => h("span", {}, badge(x), " " + counts[x]))),
    h("table", { id: "partition-matrix", class: "matrix" },
      h("tr", {}, h("th", {}, "Partition"), columns.map((r) => h("th", { class: r.stage === picked ? "picked" : "" }, r.stage))),
      m.partitions.map((p) => h("tr", { "data-partition": p },
        h("td", {}, p),
        columns.map((r) => {
          const c = cellOf.get(r.stage).get(p);
          if (!c) return h("td", {}, "—");
          return h("td", { "data-stage": c.stage, "data-state": c.state, title: c.why || c.state },
            h("a", { href: "#/stage/" + q(c.stage), class: "badge state-" + c.state }, c.state));
        })))));
}

function stageTable(stages) {
  return h("table", { id: "stage-table" },
    h("tr", {}, ["Stage", "State", "Why / waits on", "Agent", "Phase", "Gates", "Last run"].map((t) => h("th", {}, t))),
    stages.map((st) => h("tr", { "data-stage": st.name, "data-state": stateOf(st) },
      h("td", {}, h("a", { href: "#/stage/" + q(st.name) }, st.name)),
      h("td", {}, badge(stateOf(st))),
      h("td", {}, st.waiting_on.length ? "waits on " + st.waiting_on.join(", ") : st.missing.length ? "needs " + st.missing.join(", ") + " (no stage writes it)" : st.why),
      h("td", {}, st.agent),
      h("td", {}, st.phase ?? ""),
      h("td", {}, `${st.enforced} enforced` + (st.unchecked ? `, ${st.unchecked} unchecked` : "")),
      h("td", {}, st.last_run ? when(st.last_run.at) : "never"))));
}

// ---- stage -------------------------------------------------------------------

async function stageView(name) {
  const d = await api("/api/stages/" + q(name));
  const st = d.stage;
  const state = stateOf(st);
  const view = h("section", { id: "stage-view", "data-stage": st.name, "data-state": state },
    h("h2", {}, st.name, " ", badge(state)),
    st.why || st.waiting_on.length || st.missing.length ? h("p", { class: "why" }, st.waiting_on.length ? "Waits on " + st.waiting_on.join(", ") + ". " : "", st.missing.length ? "Needs " + st.missing.join(", ") + ", which no stage writes: store it. " : "", st.why) : null,
    h("table", { class: "facts card" },
      fact("Agent", `${st.agent}${st.agent_number ? " (agent " + st.agent_number + ")" : ""}`),
      fact("Phase", st.phase ?? "—"),
      fact("Writes", st.writes ? memoryLink(st.namespace, st.writes) : "nothing"),
      fact("Reads", st.reads.join(", ") || "nothing"),
      fact("After", st.depends_on.length ? st.depends_on.map((x) => h("a", { href: "#/stage/" + q(x) }, x + " ")) : "—"),
      fact("Last run", st.last_run ? `${when(st.last_run.at)} · revision ${st.last_run.revision} · ${st.last_run.workflow || ""}` : "never"),
      st.cost_usd !== undefined ? fact("Agent cost", `$${st.cost_usd.toFixed(4)}`) : null),
    h("h3", {}, "Gates"),
    h("table", {}, h("tr", {}, ["Gate", "Rule", "Severity", "Check"].map((t) => h("th", {}, t))),
      st.gates.map((g) => h("tr", {}, h("td", {}, g.name), h("td", {}, g.rule), h("td", {}, g.severity), h("td", {}, g.kind)))));
  if (d.quarantine) {
    const rec = d.quarantine.record;
    view.append(h("div", { class: "card", id: "quarantine" },
      h("h3", {}, "Refused by its gates ", h("span", { class: "muted" }, when(d.quarantine.at))),
      rec.reason ? h("p", {}, rec.reason) : null,
      gateReport(rec.gate_report),
      h("details", {}, h("summary", {}, "The refused output"), h("pre", {}, json(rec.output)))));
  }
  if (d.held) view.append(heldCard(st.name, d.held));
  if (d.provenance) {
    const pr = d.provenance;
    view.append(h("h3", {}, "Current output"));
    if (pr.gate_report) view.append(gateReport(pr.gate_report));
    if (pr.stage) {
      view.append(h("table", { class: "facts card", id: "provenance" },
        fact("Component", h("code", {}, pr.component_sha256)),
        fact("Agent id", pr.agent_id),
        fact("Workflow", pr.workflow_id),
        fact("Inputs read", pr.inputs.map((i) => h("div", {}, memoryLink(i.namespace, i.key, i.revision), ` revision ${i.revision ?? "absent"}`))),
        fact("Config", h("pre", {}, json(pr.config)))));
    }
  }
  if (d.output) view.append(await documentView(st, d.output.value));
  // An agent's last lines: what its latest attempt answered and said on stderr.
  const attempts = d.runs.flatMap((r) => r.events).filter((e) => /^agent\.[^.]+\.attempt$/.test(e.name));
  const latest = attempts.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).pop();
  if (latest && (latest.attributes.output_tail || latest.attributes.stderr_tail)) {
    const a = latest.attributes;
    view.append(h("div", { class: "card", id: "agent-output" },
      h("h3", {}, "Agent output ", h("span", { class: "muted" }, `attempt ${a.attempt} · ${when(latest.at)}${a.exit !== null && a.exit !== undefined ? " · exit " + a.exit : ""}`)),
      a.output_tail ? h("pre", { class: "output-tail" }, a.output_tail) : null,
      a.stderr_tail ? h("details", { open: !a.output_tail }, h("summary", {}, "standard error"), h("pre", { class: "stderr-tail" }, a.stderr_tail)) : null));
  }
  view.append(h("h3", {}, "Runs"));
  if (!d.runs.length) view.append(h("p", { class: "muted" }, "No recorded runs."));
  for (const run of d.runs) {
    view.append(h("div", { class: "card run" },
      h("strong", {}, run.agent_id),
      h("ul", { class: "timeline" }, run.events.map((e) => h("li", {},
        h("span", { class: "at" }, when(e.at)), h("code", {}, e.name), " ", h("span", { class: "muted" }, short(e.attributes, 160)))))));
  }
  if (d.history.length) {
    view.append(h("h3", {}, "Revisions of its key"),
      h("table", {}, h("tr", {}, ["Revision", "Written", "By", "Size"].map((t) => h("th", {}, t))),
        d.history.slice().reverse().map((m) => h("tr", {},
          h("td", {}, memoryLink(m.namespace, m.key, m.revision, String(m.revision))),
          h("td", {}, when(m.written_at)), h("td", {}, writer(m.writer)), h("td", {}, m.size)))));
  }
  return view;
}

function fact(name, value) {
  return h("tr", {}, h("td", {}, name), h("td", {}, value));
}

function writer(w) {
  return typeof w === "string" ? w : JSON.stringify(w);
}

function memoryLink(ns, key, revision, text) {
  const rev = revision ? "&rev=" + revision : "";
  return h("a", { href: `#/memory?ns=${q(ns)}&key=${q(key)}${rev}` }, text || `${ns}:${key}`);
}

function gateReport(report) {
  return h("table", { class: "gate-report" },
    h("tr", {}, ["Gate", "Result", "Severity", "Findings"].map((t) => h("th", {}, t))),
    report.gates.map((g) => h("tr", { "data-gate": g.name, "data-passed": String(g.passed) },
      h("td", {}, h("strong", {}, g.name), h("div", { class: "muted" }, g.rule)),
      h("td", {}, g.unchecked ? h("span", { class: "muted" }, "unchecked") : g.approval && g.passed ? h("span", { class: "muted" }, "a person decides") : g.passed ? h("span", { class: "pass" }, "pass") : h("span", { class: "fail" }, "fail")),
      h("td", {}, g.severity),
      h("td", {}, g.findings.map((f) => h("div", { class: "finding" },
        h("code", {}, f.pointer || "/"), " ", f.message,
        f.expected ? h("div", { class: "muted" }, "expected: " + f.expected) : null,
        f.actual ? h("div", { class: "muted" }, "found: " + f.actual) : null))))));
}

// ---- documents ---------------------------------------------------------------

async function documentView(stage, doc) {
  const box = h("div", { class: "card doc", id: "document" }, h("h3", {}, "Document"));
  // The page knows no stage: a stage's renderer draws its document as a view (blocks
  // of headings, tables, bars and charts) and as markdown; the page draws either.
  let drawn = false;
  if (stage.renders) {
    try {
      box.append(drawView(await api("/api/stages/" + q(stage.name) + "/view")));
      drawn = true;
    } catch (e) {
      // A renderer that offers no view: its markdown is the document.
    }
    try {
      const r = await api("/api/stages/" + q(stage.name) + "/render");
      box.append(h("details", { open: !drawn }, h("summary", {}, "As its renderer writes it"), markdown(r.text)));
    } catch (e) {
      box.append(errorBox(e));
    }
  }
  box.append(h("details", {}, h("summary", {}, "JSON"), h("pre", {}, json(doc))));
  return box;
}

function table(headers, rows) {
  return h("table", {}, h("tr", {}, headers.map((t) => h("th", {}, t))), rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))));
}

const PALETTE = ["#3a78c9", "#2e9d5b", "#d99a1e", "#9a6fd1", "#1f9fb3", "#d24545", "#6b7385", "#b5651d"];

// A stage's view, block by block (docs/DESIGN.md, "A stage's view").
function drawView(view) {
  const out = h("div", { id: "view" });
  for (const block of view.blocks) {
    if (block.heading !== undefined) out.append(h("h3", {}, block.heading));
    else if (block.table) out.append(table(block.table.headers, block.table.rows));
    else if (block.bar) out.append(...bar(block.bar));
    else if (block.lines) out.append(lineChart(block.lines));
  }
  return out;
}

function bar(b) {
  const total = Math.max(b.total, 1);
  let colour = 0;
  const segs = b.segments.map((g) => h("div", {
    style: { width: `${(100 * g.value / total).toFixed(2)}%`, background: g.rest ? "#b8bfcc" : PALETTE[colour++ % PALETTE.length] },
    title: `${g.label}: ${g.value} ${g.unit}`,
  }, `${g.label} ${g.value}`));
  const flag = b.flag ? h("span", { class: b.flag.tone }, " " + b.flag.text) : null;
  return [h("div", {}, h("strong", {}, b.title), ` — ${b.note}`, flag), h("div", { class: "bar budget" }, segs)];
}

function lineChart(chart) {
  const labels = chart.x, series = chart.series;
  const max = Math.max(1, ...series.flatMap((l) => l.values));
  const W = 560, H = 220, L = 40, B = 30, T = 10, R = 150;
  const x = (i) => L + (i * (W - L - R)) / Math.max(1, labels.length - 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const parts = [s("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#9aa3b5" })];
  labels.forEach((lab, i) => parts.push(s("text", { x: x(i), y: H - 10, "font-size": 10, "text-anchor": "middle", fill: "#6b7385" }, lab)));
  [0, max].forEach((v) => parts.push(s("text", { x: L - 6, y: y(v) + 4, "font-size": 10, "text-anchor": "end", fill: "#6b7385" }, v)));
  series.forEach((line, k) => {
    const color = PALETTE[k % PALETTE.length];
    parts.push(s("polyline", { points: line.values.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    line.values.forEach((v, i) => parts.push(s("circle", { cx: x(i), cy: y(v), r: 3, fill: color }, s("title", {}, `${line.name} ${labels[i]}: ${v}`))));
    parts.push(s("text", { x: W - R + 8, y: T + 12 + k * 14, "font-size": 11, fill: color }, line.name));
  });
  return s("svg", { width: W, height: H, class: "line-chart", role: "img", "aria-label": chart.label }, parts);
}

// A small Markdown reader for renderer output: headings, tables, lists, code, text.
function markdown(text) {
  const out = h("div", { class: "markdown" });
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      out.append(h("pre", {}, code.join("\n")));
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(6, line.match(/^#+/)[0].length + 2);
      out.append(h("h" + level, {}, line.replace(/^#+ /, "")));
    } else if (line.startsWith("|")) {
      const rows = [];
      for (; i < lines.length && lines[i].startsWith("|"); i++) rows.push(lines[i]);
      i--;
      const cells = (r) => r.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
      const body = rows.filter((r) => !/^\|[\s:|-]+\|$/.test(r));
      out.append(table(cells(body[0]), body.slice(1).map(cells)));
    } else if (/^\s*[-*] /.test(line)) {
      const items = [];
      for (; i < lines.length && /^\s*[-*] /.test(lines[i]); i++) items.push(lines[i].replace(/^\s*[-*] /, ""));
      i--;
      out.append(h("ul", {}, items.map((t) => h("li", {}, t.replace(/`/g, "")))));
    } else if (line.trim()) {
      out.append(h("p", {}, line.replace(/\*\*|`/g, "")));
    }
  }
  return out;
}

// ---- memory ------------------------------------------------------------------

// A search hit's snippet, its matched words (between `**`) in <mark>.
function marked(snippet) {
  return h("span", { class: "snippet" },
    snippet.split("**").map((part, i) => (i % 2 ? h("mark", {}, part) : part)));
}

async function memoryView(params) {
  const ns = params.get("ns") || "";
  const key = params.get("key") || "";
  const search = params.get("q") || "";
  const [namespaces, keys] = await Promise.all([
    api("/api/memory/namespaces"),
    api(`/api/memory/keys?namespace=${q(ns)}&q=${q(search)}`),
  ]);
  const go = (changes) => {
    const p = new URLSearchParams({ ns, q: search, key });
    for (const [k, v] of Object.entries(changes)) p.set(k, v);
    for (const [k, v] of [...p.entries()]) if (!v) p.delete(k);
    location.hash = "#/memory?" + p.toString();
  };
  const select = h("select", { id: "namespace", onchange: (e) => go({ ns: e.target.value, key: "" }) },
    h("option", { value: "" }, "all namespaces"),
    Object.entries(namespaces).map(([n, count]) => h("option", { value: n, selected: n === ns }, `${n} (${count})`)));
  const box = h("input", { type: "search", id: "search", placeholder: "search keys and values", value: search,
    onkeydown: (e) => { if (e.key === "Enter") go({ q: e.target.value, key: "" }); } });
  const list = h("div", { class: "keys card", id: "keys" },
    keys.length ? keys.map((m) => h("a", { href: `#/memory?ns=${q(m.namespace)}&key=${q(m.key)}${search ? "&q=" + q(search) : ""}`,
      class: m.key === key && m.namespace === ns ? "active" : null, "data-key": m.key },
      m.key, h("span", { class: "muted" }, ` · ${m.namespace} · r${m.revision}`),
      m.snippet === undefined ? null : h("div", { class: "hit" },
        h("span", { class: "similarity", title: "similarity: about the share of the query's words it holds" },
          m.similarity.toFixed(2)), " ", marked(m.snippet)))) :
      h("p", { class: "muted" }, search ? "Nothing matches." : "No keys."));
  const right = h("div", { id: "entry" });
  if (ns && key) right.append(await entryView(ns, key, params));
  else right.append(h("p", { class: "muted" }, "Pick a key."));
  return h("section", { id: "memory-view", class: "cols" }, h("div", {}, select, box, list), right);
}

// A message shown on the entry's page for a few seconds (after a rollback), whichever
// drawing of the page comes next: a live update may redraw it at the same moment.
let flash = null;

async function entryView(ns, key, params) {
  const rev = params.get("rev");
  const d = await api(`/api/memory/entry?namespace=${q(ns)}&key=${q(key)}${rev ? "&revision=" + q(rev) : ""}`);
  const m = d.meta;
  const shown = flash && flash.until > Date.now() && flash.key === ns + ":" + key;
  const status = h("div", { id: "status" }, shown ? h("div", { class: "message ok", id: "rolled-back" }, flash.text) : null);
  const head = d.history.length ? d.history[d.history.length - 1].revision : m.revision;
  const view = h("div", {},
    h("h2", {}, key, " ", h("span", { class: "muted" }, ns)),
    status,
    h("table", { class: "facts card" },
      fact("Revision", `${m.revision}${m.revision === head ? " (current)" : " of " + head}`),
      fact("Written", when(m.written_at)), fact("By", writer(m.writer)), fact("Size", m.size + " bytes"),
      fact("SHA-256", h("code", {}, m.sha256)), m.expires_at ? fact("Expires", when(m.expires_at)) : null,
      m.deleted ? fact("Deleted", "yes") : null),
    d.provenance ? h("details", {}, h("summary", {}, "Provenance"), h("pre", {}, json(d.provenance))) : null,
    h("h3", {}, "Value"), h("pre", { id: "value" }, json(d.value)));
  // Revisions: pick two to compare, or one to roll back to.
  let a = d.history.length > 1 ? d.history[d.history.length - 2].revision : head, b = head;
  const diffBox = h("div", { id: "diff" });
  const rows = d.history.slice().reverse().map((r) => h("tr", { "data-revision": r.revision },
    h("td", {}, h("input", { type: "radio", name: "from", value: r.revision, checked: r.revision === a, onchange: () => { a = r.revision; } })),
    h("td", {}, h("input", { type: "radio", name: "to", value: r.revision, checked: r.revision === b, onchange: () => { b = r.revision; } })),
    h("td", {}, h("a", { href: `#/memory?ns=${q(ns)}&key=${q(key)}&rev=${r.revision}` }, r.revision)),
    h("td", {}, when(r.written_at)), h("td", {}, writer(r.writer)), h("td", {}, r.deleted ? "deleted" : r.size + " bytes"),
    h("td", {}, r.revision === head || r.deleted ? null : h("button", { class: "secondary rollback", "data-revision": r.revision,
      onclick: () => rollback(ns, key, r.revision, head, status) }, "Roll back to this"))));
  view.append(h("h3", {}, "Revisions"),
    h("table", { id: "revisions" }, h("tr", {}, ["From", "To", "Revision", "Written", "By", "Size", ""].map((t) => h("th", {}, t))), rows),
    h("p", {}, h("button", { id: "diff-button", onclick: () => diff(ns, key, a, b, diffBox) }, "Compare")), diffBox);
  return view;
}

async function diff(ns, key, from, to, box) {
  try {
    const d = await api(`/api/memory/diff?namespace=${q(ns)}&key=${q(key)}&from=${from}&to=${to}`);
    box.replaceChildren(h("h3", {}, `Revision ${from} → ${to}: ${d.changes.length} change${d.changes.length === 1 ? "" : "s"}`),
      table(["Pointer", "Change", "Before", "After"], d.changes.map((c) => [h("code", {}, c.pointer || "/"), c.op,
        c.before === undefined ? "" : short(c.before, 200), c.after === undefined ? "" : short(c.after, 200)])));
  } catch (e) {
    box.replaceChildren(errorBox(e));
  }
}

// An output held for a person: the document, its gates' report, and the decision
// (approve stores it; reject, with a reason, sends the agent back with it).
// What a person has typed survives the page's live redraws.
const drafts = {};
function heldCard(stage, held) {
  const status = h("div", { class: "status" });
  const reason = h("textarea", { id: "decision-reason", placeholder: "Why (required to reject; a note when approving)",
    oninput: () => { drafts[stage] = reason.value; } });
  reason.value = drafts[stage] || "";
  const decide = async (verdict) => {
    try {
      await api(`/api/stages/${q(stage)}/${verdict}`, { method: "POST", body: JSON.stringify({ reason: reason.value || null }) });
      delete drafts[stage];
      render();
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  };
  const rejected = held.rejected;
  return h("div", { class: "card", id: "held", "data-held": rejected ? "rejected" : "waiting" },
    h("h3", {}, rejected ? "Rejected " : "Held for your approval ", h("span", { class: "muted" }, `${writer(held.writer)} · ${when(held.held_at)}`)),
    rejected ? h("p", {}, `Rejected by ${writer(rejected.by)} ${when(rejected.at)}: `, h("q", {}, rejected.reason || "")) : null,
    gateReport(held.gate_report),
    h("details", { open: !rejected }, h("summary", {}, "The held output"), h("pre", {}, json(held.output))),
    rejected ? null : h("div", { class: "actions" }, reason,
      h("button", { id: "approve", onclick: () => decide("approve") }, "Approve and store"),
      h("button", { id: "reject", class: "secondary", onclick: () => decide("reject") }, "Reject")),
    status);
}

async function rollback(ns, key, revision, head, status) {
  if (!confirm(`Write revision ${revision} of ${key} again as a new revision? It passes the key's gates first.`)) return;
  try {
    const r = await api("/api/memory/rollback", { method: "POST", body: JSON.stringify({ namespace: ns, key, revision, if_revision: head }) });
    const written = r.meta ? r.meta.revision : r.revision;
    flash = { key: ns + ":" + key, until: Date.now() + 5000, text: `Rolled back: revision ${revision} is now revision ${written}.` };
    const target = `#/memory?ns=${q(ns)}&key=${q(key)}`;
    if (location.hash === target) render(); else location.hash = target;
  } catch (e) {
    status.replaceChildren(errorBox(e));
  }
}
