// saddlepoint runs page: the runs under a folder, one run's progress, curves and pictures, and the curves of the
// runs ticked for comparison, polled from the server every two seconds. Reads only; no libraries.
"use strict";
const watch = { runs: [], selected: null, logs: {}, pictures: null, following: true, polls: 0, compared: [],
  differ: {} };
Object.defineProperty(watch, "rows", { get: () => (watch.logs[watch.selected] || { rows: [] }).rows });
window.watch = watch;
const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const COLORS = ["#1565c0", "#ef6c00", "#6a1b9a", "#2e7d32", "#c62828", "#00838f", "#5d4037"];

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `${r.status}`);
  return body;
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// ---- the list ------------------------------------------------------------------------------------------------
async function pollRuns() {
  const data = await getJSON("/api/runs");
  watch.runs = data.runs;
  $("folder").textContent = data.folder;
  $("empty").classList.toggle("hidden", data.runs.length > 0);
  $("runs").tBodies[0].innerHTML = data.runs.map((r) => {
    const frac = r.steps ? Math.min(r.step / r.steps, 1) : 0;
    const left = r.left ? `<br><small>${esc(r.left)}</small>` : "";
    const ticked = watch.compared.includes(r.name) ? " checked" : "";
    return `<tr data-run="${esc(r.name)}" class="${r.name === watch.selected ? "selected" : ""}">` +
      `<td><input type="checkbox" class="compare" title="compare with the other ticked runs"${ticked}></td>` +
      `<td>${esc(r.name)}</td><td>${esc(r.recipe)}</td>` +
      `<td><progress max="1" value="${frac}"></progress> ${r.step}/${r.steps}${left}</td>` +
      `<td class="state ${r.state.replace(" ", "-")}">${esc(r.state)}</td><td>${esc(r.updated_ago)}</td></tr>`;
  }).join("");
  for (const tr of $("runs").tBodies[0].rows) {
    tr.onclick = () => select(tr.dataset.run);
    const box = tr.querySelector("input.compare");
    box.onclick = (e) => { e.stopPropagation(); tickCompare(tr.dataset.run, box.checked); };
  }
  watch.compared = watch.compared.filter((n) => data.runs.some((r) => r.name === n));  // a run deleted meanwhile
  if (!watch.selected && data.runs.length && !location.hash) select(data.runs[0].name);
  const run = data.runs.find((r) => r.name === watch.selected);
  if (run) showProgress(run);
  if (run && watch.aboutState !== run.state) {  // it ended, stopped or trains again: its numbers are new
    watch.aboutState = run.state;
    showAbout().catch((e) => { $("run-error").textContent = String(e.message || e); });
  }
}

function showProgress(run) {
  $("run-state").textContent = run.state;
  $("run-state").className = `state ${run.state.replace(" ", "-")}`;
  const rate = run.rate ? `, ${run.rate.toPrecision(3)} steps/s` : "";
  $("run-progress").textContent = `step ${run.step} of ${run.steps}${rate}${run.left ? ", " + run.left : ""}`;
  $("run-bar").value = run.steps ? Math.min(run.step / run.steps, 1) : 0;
  $("run-result").textContent = run.result;
}

// ---- one run -------------------------------------------------------------------------------------------------
async function select(name) {
  if (watch.selected === name) return;
  const known = watch.runs.find((r) => r.name === name);
  // pictures null, not []: a run without any picture must still clear the last run's
  Object.assign(watch, { selected: name, pictures: null, following: true, aboutState: known ? known.state : null });
  history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  $("detail").classList.remove("hidden");
  $("run-name").textContent = name;
  $("run-error").textContent = "";
  for (const tr of $("runs").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.run === name);
  if (known) showProgress(known);
  await Promise.all([refreshRun(), showAbout()]);
}

// Each run's metrics.jsonl is read from where the last read ended; one read of a run at a time, or rows would be
// appended twice.
async function readLog(name) {
  const log = watch.logs[name] || (watch.logs[name] = { rows: [], file: null, next: 0, busy: null });
  while (log.busy) await log.busy;
  log.busy = (async () => {
    let more = true;
    while (more) {  // a long log comes in pieces
      const q = `since=${log.next}` + (log.file ? `&file=${encodeURIComponent(log.file)}` : "");
      const m = await getJSON(`/api/runs/${encodeURIComponent(name)}/metrics?${q}`);
      if (m.reset) log.rows = [];  // rewritten by a resume or a rollback
      for (const r of m.rows) log.rows.push(r);  // (a spread of a long read would overflow the call stack)
      if (m.reset || m.rows.length) log.version = (log.version || 0) + 1;
      Object.assign(log, { file: m.file, next: m.next });
      more = m.more;
    }
  })();
  try { await log.busy; } finally { log.busy = null; }
  return log.rows;
}

async function refreshRun() {
  const name = watch.selected;
  if (!name) return;
  await readLog(name);
  if (name !== watch.selected) return;
  const drawn = `${name}:${watch.logs[name].version}`;
  if (watch.drawn !== drawn) {  // nothing new logged: the charts stand
    watch.drawn = drawn;
    drawCharts();
    showEvents();
  }
  const pics = await getJSON(`/api/runs/${encodeURIComponent(name)}/pictures`);
  if (name !== watch.selected) return;
  if (JSON.stringify(pics) !== JSON.stringify(watch.pictures)) { watch.pictures = pics; showPictures(); }
}

async function showAbout() {
  const name = watch.selected;
  const a = await getJSON(`/api/runs/${encodeURIComponent(name)}/about`);
  if (name !== watch.selected) return;
  const table = (obj, caption) => {
    const rows = Object.entries(obj || {}).map(([k, v]) =>
      `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" && v !== null ? JSON.stringify(v) : v)}</td></tr>`);
    return rows.length ? `<table><caption>${esc(caption)}</caption>${rows.join("")}</table>` : "";
  };
  $("tables").innerHTML = table(a.summary, "summary.json") + table(a.evaluation, "eval.json") +
    table(a.run, "run.json") + table(a.config, "config.yaml");
}

function snapshots() {
  // the sample grids over training, oldest first, and the run's last grid (samples.png) after them where it is newer
  const snaps = watch.pictures.filter((p) => p.step !== null);
  const last = watch.pictures.find((p) => p.name === "samples.png");
  if (last && (!snaps.length || last.mtime >= snaps[snaps.length - 1].mtime)) snaps.push(last);
  return snaps;
}

const pictureURL = (p) =>
  `/api/runs/${encodeURIComponent(watch.selected)}/picture/${encodeURIComponent(p.name)}?t=${p.mtime}`;

function showPictures() {
  const snaps = snapshots();
  const scrub = $("scrub");
  const atEnd = watch.following || Number(scrub.value) >= Number(scrub.max);
  scrub.max = Math.max(snaps.length - 1, 0);
  if (atEnd) scrub.value = scrub.max;
  $("scrub-label").classList.toggle("hidden", snaps.length < 2);
  showSnapshot();
  const others = watch.pictures.filter((p) => !snaps.includes(p));
  $("others").innerHTML = others.map((p) =>
    `<figure><a href="${pictureURL(p)}" target="_blank"><img src="${pictureURL(p)}" alt="${esc(p.name)}"></a>` +
    `<figcaption>${esc(p.name)}</figcaption></figure>`).join("");
}

function showSnapshot() {
  const p = snapshots()[Number($("scrub").value)];
  $("snapshot").classList.toggle("hidden", !p);
  if (!p) {
    $("snapshot-caption").textContent = "no sample grid yet (sample_every= sets how often one is drawn)";
    return;
  }
  const url = pictureURL(p);
  if ($("snapshot").dataset.src !== url) { $("snapshot").src = url; $("snapshot").dataset.src = url; }
  $("snapshot-caption").textContent = p.step === null ? `samples at the end (${p.name})` : `samples at step ${p.step}`;
}

$("scrub").oninput = () => { watch.following = Number($("scrub").value) >= Number($("scrub").max); showSnapshot(); };

// ---- curves --------------------------------------------------------------------------------------------------
function chartGroups(rows) {
  // loss/* on one chart, score/* on another; every other number on its own (their scales differ):
  // the losses first, then the scores, the evaluations and the rest
  const keys = new Set();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) if (typeof v === "number" && k !== "step" && k !== "time") keys.add(k);
  }
  const rank = (k) => {
    const i = ["loss/", "score/", "eval/"].findIndex((h) => k.startsWith(h));
    return i < 0 ? 3 : i;
  };
  const groups = new Map();
  for (const k of [...keys].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))) {
    if (k.startsWith("event/") || k.startsWith("alarm/")) continue;
    const head = k.split("/")[0];
    const g = head === "loss" || head === "score" ? head : k;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(k);
  }
  return groups;
}

function canvases(holder, keys) {  // one canvas per chart, each named by its first key (made again when they change)
  const names = JSON.stringify(keys);
  if (holder.dataset.keys !== names) {
    holder.innerHTML = keys.map((k) => `<canvas data-key="${esc(k)}" width="360" height="170"></canvas>`).join("");
    holder.dataset.keys = names;
  }
  return [...holder.children];
}

const MAX_POINTS = 2000;  // per line: a long log is thinned to every k-th row (the last one kept) before drawing
function series(rows, key, label) {
  const pts = rows.filter((r) => typeof r[key] === "number").map((r) => [r.step, r[key]]);
  const k = Math.ceil(pts.length / MAX_POINTS);
  return { label, pts: k <= 1 ? pts : pts.filter((_, i) => i % k === 0 || i === pts.length - 1) };
}

function stepSpan(rowsets) {  // one step axis for the charts drawn together (a loop: a log may be long)
  let lo = 0, hi = -Infinity;
  for (const rows of rowsets) for (const r of rows) { lo = Math.min(lo, r.step); hi = Math.max(hi, r.step); }
  return hi > -Infinity ? [lo, hi] : [0, 1];
}

function drawCharts() {
  const rows = watch.rows, groups = [...chartGroups(rows).values()];
  const span = stepSpan([rows]);
  canvases($("charts"), groups.map((keys) => keys[0])).forEach((c, i) =>
    drawChart(c, groups[i].map((k) => series(rows, k, k)), span));
}

function drawChart(c, lines, [x0, x1], title = "") {
  const ctx = c.getContext("2d"), W = c.width, H = c.height, L = 48, T = title ? 32 : 18, B = 16;
  ctx.clearRect(0, 0, W, H);
  const all = lines.flatMap((s) => s.pts);
  ctx.font = "12px system-ui, sans-serif";
  if (title) { ctx.fillStyle = "#222"; ctx.fillText(title, L, 12); }
  if (!all.length) return;
  let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (y1 === y0) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
  const px = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - 8);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  ctx.strokeStyle = "#ccc"; ctx.strokeRect(L, T, W - L - 8, H - T - B);
  ctx.fillStyle = "#555";
  ctx.fillText(y1.toPrecision(3), 2, T + 9); ctx.fillText(y0.toPrecision(3), 2, H - B);
  ctx.fillText(`step ${x1}`, W - 70, H - 3);
  let labelX = L;
  lines.forEach(({ label, pts }, i) => {
    const color = COLORS[i % COLORS.length];
    ctx.strokeStyle = ctx.fillStyle = color;
    ctx.beginPath();
    pts.forEach(([x, y], j) => (j ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.stroke();
    if (pts.length < 40) {  // few points (evaluations): each one shown
      for (const [x, y] of pts) { ctx.beginPath(); ctx.arc(px(x), py(y), 2.2, 0, 7); ctx.fill(); }
    }
    ctx.fillText(label, labelX, title ? 26 : 12);
    labelX += ctx.measureText(label).width + 12;
  });
}

// ---- runs side by side ---------------------------------------------------------------------------------------
function tickCompare(name, on) {
  watch.compared = on ? [...new Set([...watch.compared, name])] : watch.compared.filter((n) => n !== name);
  refreshCompare().catch((e) => { $("status").textContent = String(e.message || e); });
}

async function refreshCompare() {
  const names = [...watch.compared];
  $("compare").classList.toggle("hidden", names.length < 2);
  if (names.length < 2) return;
  const logs = await Promise.all(names.map(readLog));
  if (names.join() !== watch.compared.join()) return;
  const drawn = names.map((n) => `${n}:${watch.logs[n].version}`).join();
  if (watch.comparedDrawn === drawn) return;  // nothing new logged: the comparison stands
  if (watch.differ.for !== names.join()) {  // what differs in their configs: asked again when the set changes
    const q = names.map((n) => `run=${encodeURIComponent(n)}`).join("&");
    watch.differ = { for: names.join(), ...(await getJSON(`/api/compare?${q}`)) };
    if (names.join() !== watch.compared.join()) return;
    const cell = (v) => `<td>${v === null ? "—" : esc(typeof v === "object" ? JSON.stringify(v) : v)}</td>`;
    const rows = Object.entries(watch.differ.differs).map(([k, vs]) =>
      `<tr><th>${esc(k)}</th>${vs.map(cell).join("")}</tr>`);
    const head = `<thead><tr><th>config</th>${names.map((n) => `<th>${esc(n)}</th>`).join("")}</tr></thead>`;
    $("compare-differs").innerHTML = rows.length ? `${head}<tbody>${rows.join("")}</tbody>`
      : "<caption>their configs are the same</caption>";
  }
  // every number two or more of them logged, one chart each, a line per run
  const counts = new Map();
  for (const rows of logs) {
    for (const k of [...chartGroups(rows).values()].flat()) counts.set(k, (counts.get(k) || 0) + 1);
  }
  const keys = [...counts.keys()].filter((k) => counts.get(k) >= 2);
  $("compare-title").textContent = `${names.join(", ")}: ${keys.length} numbers they share`;
  const span = stepSpan(logs);
  canvases($("compare-charts"), keys).forEach((c, i) =>
    drawChart(c, names.map((n, j) => series(logs[j], keys[i], n)), span, keys[i]));
  watch.comparedDrawn = drawn;  // (only once drawn: a failed read is tried again at the next poll)
}

function showEvents() {
  const said = [];
  for (const r of watch.rows) {
    const back = r["event/rollback"];
    if (typeof back === "number") said.push(`step ${r.step}: rolled back after a non-finite loss (rollback ${back})`);
    if (r["alarm/collapse"]) said.push(`step ${r.step}: collapse alarm — coverage fell`);
  }
  $("run-events").textContent = said.slice(-5).join("; ");
}

// ---- the loop ------------------------------------------------------------------------------------------------
async function tick() {
  try {
    await pollRuns();
    await refreshRun();
    await refreshCompare();
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("run-error").textContent = "";
  } catch (e) {
    $("status").textContent = "the server does not answer — is `saddlepoint watch` still running?";
    if (watch.selected) $("run-error").textContent = String(e.message || e);
  }
  watch.polls += 1;
  setTimeout(tick, POLL_MS);
}

if (location.hash.length > 1) {
  const shown = (e) => { $("run-error").textContent = String(e.message || e); };
  select(decodeURIComponent(location.hash.slice(1))).catch(shown);
}
tick();
