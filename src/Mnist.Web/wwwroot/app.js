// Draw a digit and watch the network decide. Plain JavaScript, no framework, nothing from elsewhere.
// The canvas is sent as a PNG to POST /api/predict, which prepares it like an MNIST digit on the
// server (the API and this page share that code) and answers with the ten probabilities, the
// 28x28 image the network saw and, when asked, the first convolution's feature maps. An uploaded
// photo or image file is sent as it is (the server decodes it) and shown on the canvas meanwhile.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const stroke = document.getElementById("stroke");
const strokeValue = document.getElementById("stroke-value");
const verdict = document.getElementById("verdict");
const digitEl = document.getElementById("digit");
const verdictText = document.getElementById("verdict-text");
const bars = document.getElementById("bars");
const errorEl = document.getElementById("error");
const seen = document.getElementById("seen");
const seenCtx = seen.getContext("2d");
const mapsBox = document.getElementById("maps-box");
const mapsImg = document.getElementById("maps");
const mapsCaption = document.getElementById("maps-caption");
const upload = document.getElementById("upload");

// ---- the ten bars -------------------------------------------------------------------------
const rows = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.dataset.digit = String(d);
  li.innerHTML = `<span>${d}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span>`;
  bars.appendChild(li);
  rows.push({ li, fill: li.querySelector(".fill"), pct: li.querySelector(".pct") });
}

function showBars(probabilities, top) {
  rows.forEach((row, d) => {
    const p = probabilities ? probabilities[d] : 0;
    row.fill.style.width = (p * 100).toFixed(1) + "%";
    row.pct.textContent = probabilities ? (p * 100).toFixed(1) + "%" : "–";
    row.li.classList.toggle("top", probabilities !== null && d === top);
  });
}

// ---- drawing --------------------------------------------------------------------------------
function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

let drawing = null; // the pointer drawing now, and where it was
let marked = false;  // anything drawn since the last clear
let uploaded = null; // the uploaded file the canvas shows, sent instead of the canvas

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
}

pad.addEventListener("pointerdown", e => {
  if (drawing || (e.pointerType === "mouse" && e.button !== 0)) return;
  e.preventDefault();
  if (uploaded) { blank(); uploaded = null; upload.value = ""; }
  document.body.dataset.pointer = e.pointerType;
  pad.setPointerCapture(e.pointerId);
  ctx.lineWidth = Number(stroke.value);
  const p = point(e);
  drawing = { id: e.pointerId, last: p };
  marked = true;
  dot(p);
  requestPrediction(false);
});

pad.addEventListener("pointermove", e => {
  if (!drawing || e.pointerId !== drawing.id) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  ctx.beginPath();
  ctx.moveTo(drawing.last.x, drawing.last.y);
  for (const ev of (events.length ? events : [e])) {
    const p = point(ev);
    ctx.lineTo(p.x, p.y);
    drawing.last = p;
  }
  ctx.stroke();
  requestPrediction(false);
});

function endStroke(e) {
  if (!drawing || e.pointerId !== drawing.id) return;
  drawing = null;
  requestPrediction(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  blank();
  marked = false;
  uploaded = null;
  upload.value = "";
  requestPrediction(true);
});

upload.addEventListener("change", async () => {
  const file = upload.files[0];
  if (!file) return;
  uploaded = file;
  marked = true;
  blank();
  try {
    // a preview only (the browser turns it by its EXIF orientation too); the server gets the file
    const image = await createImageBitmap(file);
    const scale = Math.min(pad.width / image.width, pad.height / image.height);
    const w = image.width * scale, h = image.height * scale;
    ctx.drawImage(image, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch (err) {
    // not an image the browser can show: the server's answer will say what is wrong with it
  }
  requestPrediction(true);
});

stroke.addEventListener("input", () => { strokeValue.textContent = stroke.value; });
mapsBox.addEventListener("toggle", () => { if (mapsBox.open) requestPrediction(true); });

// ---- asking the server: one request at a time, always about the latest drawing ---------------
let inFlight = false, wanted = false, lastSent = 0, timer = 0;
const THROTTLE_MS = 80;

function setPending() {
  document.body.dataset.pending = String(inFlight || wanted || timer !== 0);
}

function requestPrediction(now) {
  wanted = true;
  setPending();
  if (inFlight) return;
  const wait = now ? 0 : Math.max(0, lastSent + THROTTLE_MS - performance.now());
  if (wait === 0) { send(); return; }
  if (!timer) timer = setTimeout(() => { timer = 0; if (!inFlight) send(); }, wait);
  setPending();
}

async function send() {
  if (timer) { clearTimeout(timer); timer = 0; }
  wanted = false;
  inFlight = true;
  lastSent = performance.now();
  setPending();
  let request;
  if (uploaded) {
    const form = new FormData();
    form.append("file", uploaded);
    request = { method: "POST", body: form };
  } else {
    const body = JSON.stringify({ image: pad.toDataURL("image/png") });
    request = { method: "POST", headers: { "Content-Type": "application/json" }, body };
  }
  try {
    const response = await fetch("/api/predict" + (mapsBox.open ? "?featureMaps=true" : ""), request);
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    errorEl.hidden = true;
    show(answer);
  } catch (err) {
    errorEl.textContent = "The server could not answer: " + err.message;
    errorEl.hidden = false;
  } finally {
    inFlight = false;
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
    if (wanted) requestPrediction(false);
    setPending();
  }
}

function show(answer) {
  if (answer.empty) {
    verdict.classList.add("empty");
    digitEl.textContent = "?";
    verdictText.textContent = marked ? "no digit found: " + answer.message : answer.message;
    showBars(null, -1);
  } else {
    verdict.classList.remove("empty");
    digitEl.textContent = String(answer.digit);
    verdictText.textContent = `${(answer.confidence * 100).toFixed(1)}% sure`;
    showBars(answer.probabilities, answer.digit);
  }
  showSeen(answer.image, answer.size || 28);
  document.getElementById("seen-caption").textContent = answer.empty
    ? "nothing to show yet"
    : `28×28, ink white; centre of mass (${answer.centreOfMass.x.toFixed(1)}, ${answer.centreOfMass.y.toFixed(1)})`;
  if (answer.featureMaps) {
    const m = answer.featureMaps;
    mapsImg.src = m.png;
    mapsCaption.textContent = `${m.channels} maps of ${m.width}×${m.height} after layer ${m.layer}, each scaled to its own brightest point`;
  } else if (answer.empty) {
    mapsImg.removeAttribute("src");
    mapsCaption.textContent = "";
  }
}

function showSeen(pixels, size) {
  const image = seenCtx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = Math.round(Math.max(0, Math.min(1, pixels[i])) * 255);
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  seenCtx.putImageData(image, 0, 0);
}

// ---- the model's description ----------------------------------------------------------------
async function describeModel() {
  const el = document.getElementById("model-info");
  try {
    const m = await (await fetch("/api/model")).json();
    const parts = [`Model: ${m.name}`, `${m.parameters.toLocaleString("en")} parameters`];
    if (m.testAccuracy != null) parts.push(`test accuracy ${(m.testAccuracy * 100).toFixed(2)}%`);
    if (m.training) parts.push(`trained ${m.training.epochs} epoch(s), ${m.training.optimizer?.name ?? "?"}, lr ${m.training.learningRate}, batch ${m.training.batchSize}`);
    el.textContent = parts.join(" · ");
  } catch (err) {
    el.textContent = "The model's description is not available: " + err.message;
  }
}

blank();
showBars(null, -1);
requestPrediction(true);
describeModel();
