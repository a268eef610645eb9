// saddlepoint lab: draws the frames the server streams and sends the user's actions. No libraries.
"use strict";
const lab = { lastFrame: null, frames: 0, settings: {}, choices: {}, socket: null, saved: null, errors: [], drawn: [] };
window.lab = lab;
const $ = (id) => document.getElementById(id);

function send(obj) {
  if (lab.socket && lab.socket.readyState === WebSocket.OPEN) lab.socket.send(JSON.stringify(obj));
}
lab.send = send;

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  lab.socket = ws;
  ws.onopen = () => { $("status").textContent = "connected"; };
  ws.onclose = () => { $("status").textContent = "disconnected — reload the page"; };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "frame") { lab.lastFrame = msg; lab.frames += 1; draw(msg); }
    else if (msg.type === "settings") { lab.settings = msg.settings; lab.choices = msg.choices; buildForm(); $("error").textContent = ""; }
    else if (msg.type === "saved") { lab.saved = msg; $("saved").textContent = `saved ${msg.run} — train it again: saddlepoint train ${msg.recipe}`; }
    else if (msg.type === "error") { lab.errors.push(msg.message); $("error").textContent = msg.message; }
  };
}

// ---- the settings form ---------------------------------------------------------------------------------------
function buildForm() {
  const form = $("settings");
  form.innerHTML = "";
  const family = lab.choices.family.value;  // the server offers only the keys this family reads
  for (const [key, spec] of Object.entries(lab.choices)) {
    if (key === "seed") { $("seed").value = spec.value; continue; }
    const label = document.createElement("label");
    label.textContent = key;
    let input;
    if (spec.options) {
      input = document.createElement("select");
      for (const o of spec.options) {
        const opt = document.createElement("option");
        opt.value = opt.textContent = String(o);
        input.appendChild(opt);
      }
      input.value = String(spec.value);
    } else if (typeof spec.value === "boolean") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = spec.value;
    } else {
      input = document.createElement("input");
      input.type = "number";
      input.step = Number.isInteger(spec.value) && !String(spec.value).includes(".") && !/^(lr|beta|momentum|gradient|r1|weight|mmd)/.test(key) ? "1" : "any";
      input.value = spec.value;
    }
    input.id = `set-${key}`;
    input.name = key;
    label.appendChild(input);
    form.appendChild(label);
  }
  $("set-family").onchange = () => {  // another family: its own base recipe, the data kept
    const settings = { family: $("set-family").value };
    if (lab.settings.data !== undefined) settings.data = lab.settings.data;
    send({ op: "settings", settings });
  };
  document.querySelectorAll(".needs-critic").forEach((el) => el.classList.toggle("hidden", family !== "gan"));
}

function formValue(key) {
  const el = $(`set-${key}`);
  const spec = lab.choices[key];
  if (!el) return undefined;
  if (el.type === "checkbox") return el.checked;
  if (spec.options) {
    const hit = spec.options.find((o) => String(o) === el.value);
    return hit === undefined ? el.value : hit;
  }
  return el.step === "1" ? parseInt(el.value, 10) : parseFloat(el.value);
}

function apply() {
  const settings = { ...lab.settings };
  for (const key of Object.keys(lab.choices)) {
    if (key === "seed") continue;
    const v = formValue(key);
    if (v !== undefined && v !== lab.choices[key].value) settings[key] = v;
  }
  for (const k of Object.keys(settings)) if (k !== "family" && !(k in lab.choices)) delete settings[k];
  send({ op: "settings", settings });
}

// ---- drawing --------------------------------------------------------------------------------------------------
function heatColor(t) {  // blue (low) → white → red (high)
  const a = Math.max(0, Math.min(1, t));
  const r = a < 0.5 ? Math.round(255 * 2 * a) : 255;
  const b = a > 0.5 ? Math.round(255 * 2 * (1 - a)) : 255;
  const g = Math.round(255 * (1 - Math.abs(a - 0.5) * 2) * 0.9 + 20);
  return `rgb(${r},${Math.min(g, 255)},${b})`;
}

function draw(f) {
  $("step-counter").textContent = f.step;
  $("critic-counter").textContent = f.critic_steps;
  $("status").textContent = f.playing ? "playing" : "paused";
  const c = $("plane"), ctx = c.getContext("2d"), W = c.width;
  const [lo, hi] = f.limits;
  const px = (x) => ((x - lo) / (hi - lo)) * W, py = (y) => W - ((y - lo) / (hi - lo)) * W;
  ctx.clearRect(0, 0, W, W);
  if (f.heat) {
    const n = f.heat.n, cell = W / n, span = (f.heat.max - f.heat.min) || 1;
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) {
      ctx.fillStyle = heatColor((f.heat.values[j * n + i] - f.heat.min) / span);
      ctx.fillRect(i * cell, W - (j + 1) * cell, cell + 1, cell + 1);
    }
  }
  ctx.strokeStyle = "rgba(90,90,90,0.6)"; ctx.lineWidth = 1;
  for (const line of f.manifold) {
    ctx.beginPath();
    line.forEach(([x, y], k) => (k ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.stroke();
  }
  const dot = (pts, color, r) => { ctx.fillStyle = color; for (const [x, y] of pts) { ctx.beginPath(); ctx.arc(px(x), py(y), r, 0, 7); ctx.fill(); } };
  dot(f.real, "#111", 1.6);
  dot(f.fake, "#ef6c00", 2.0);
  if (f.arrows && f.arrows.length) {
    const longest = Math.max(...f.arrows.map(([, , u, v]) => Math.hypot(u, v))) || 1;
    const scale = (0.08 * (hi - lo)) / longest;
    ctx.strokeStyle = "#2e7d32"; ctx.lineWidth = 1.2;
    for (const [x, y, u, v] of f.arrows) {
      ctx.beginPath(); ctx.moveTo(px(x), py(y)); ctx.lineTo(px(x + u * scale), py(y + v * scale)); ctx.stroke();
    }
  }
  dot(lab.drawn, "#1565c0", 3.0);
  drawLosses(f.losses);
  const d = f.divergences, rows = [["JS (histogram)", d.js], ["KL real‖generated (histogram)", d.kl], ["W1 (exact OT)", d.w1], ["MMD²", d.mmd2]];
  if (d.modes !== undefined) rows.push([`modes of ${d.modes_of}`, d.modes], ["high-quality fraction", d.high_quality]);
  const show = (v) => (v === null ? "—" : Number.isInteger(v) ? String(v) : Number(v).toPrecision(4));
  $("divergences").tBodies[0].innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td>${show(v)}</td></tr>`).join("");
}

function drawLosses(rows) {
  const c = $("losses"), ctx = c.getContext("2d"), W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  if (!rows.length) return;
  const keys = Object.keys(rows[rows.length - 1]).filter((k) => k.startsWith("loss/"));
  const all = rows.flatMap((r) => keys.map((k) => r[k]).filter((v) => v !== undefined && v !== null));
  const lo = Math.min(...all), hi = Math.max(...all), span = hi - lo || 1;
  const colors = ["#1565c0", "#ef6c00", "#6a1b9a", "#2e7d32", "#c62828"];
  let labelX = 8;
  keys.forEach((k, i) => {
    ctx.strokeStyle = colors[i % colors.length]; ctx.beginPath();
    rows.forEach((r, t) => { const x = (t / Math.max(rows.length - 1, 1)) * (W - 10) + 5, y = H - 15 - ((r[k] - lo) / span) * (H - 30); t ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke(); ctx.fillStyle = colors[i % colors.length]; ctx.fillText(k, labelX, 12);
    labelX += ctx.measureText(k).width + 14;
  });
  ctx.fillStyle = "#555"; ctx.fillText(`${lo.toPrecision(3)} … ${hi.toPrecision(3)}`, W - 120, H - 3);
}

// ---- controls -------------------------------------------------------------------------------------------------
$("btn-play").onclick = () => send({ op: "play" });
$("btn-pause").onclick = () => send({ op: "pause" });
$("btn-critic").onclick = () => send({ op: "step", which: "critic" });
$("btn-generator").onclick = () => send({ op: "step", which: "generator" });
$("btn-both").onclick = () => send({ op: "step", which: "both" });
$("btn-save").onclick = () => send({ op: "save" });
$("btn-apply").onclick = (e) => { e.preventDefault(); apply(); };
$("btn-reset").onclick = () => send({ op: "reset", seed: parseInt($("seed").value, 10) || 0 });
$("speed").oninput = () => { $("speed-out").textContent = $("speed").value; send({ op: "speed", steps_per_frame: parseInt($("speed").value, 10) }); };
$("plane").onclick = (e) => {
  if (!$("draw").checked || !lab.lastFrame) return;
  const c = $("plane"), r = c.getBoundingClientRect(), [lo, hi] = lab.lastFrame.limits;
  const x = lo + ((e.clientX - r.left) / r.width) * (hi - lo), y = lo + (1 - (e.clientY - r.top) / r.height) * (hi - lo);
  lab.drawn.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
  $("drawn-count").textContent = lab.drawn.length;
  draw(lab.lastFrame);
};
$("btn-use-points").onclick = () => send({ op: "points", points: lab.drawn });
$("btn-clear-points").onclick = () => { lab.drawn = []; $("drawn-count").textContent = 0; if (lab.lastFrame) draw(lab.lastFrame); };
$("settings").onsubmit = (e) => { e.preventDefault(); apply(); };
connect();
