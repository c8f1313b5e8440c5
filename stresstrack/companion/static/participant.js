// The participant page: enrolment, consent, Web Bluetooth pairing, an IndexedDB outbox that
// survives server outages, session buttons and just-in-time prompts. The server decodes the
// band's raw bytes; this page only forwards them with the time it received them.
"use strict";

const HR_SERVICE = "heart_rate";
const HR_MEASUREMENT = "heart_rate_measurement";
const BATTERY_SERVICE = "battery_service";
const BATTERY_LEVEL = "battery_level";
const BATCH = 200;

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("st.token"),
  sender: localStorage.getItem("st.sender"),
  me: null,
  ws: null,
  ready: false,
  inFlight: false,
  waiting: 0,
  session: null,
  prompt: null,
  device: null,
};
if (!state.sender) {
  state.sender = Array.from(crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  localStorage.setItem("st.sender", state.sender);
}

// -- the outbox: every packet is written here first, deleted once the server acknowledged it --
let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open("stresstrack-companion", 1);
      req.onupgradeneeded = () => req.result.createObjectStore("outbox", { keyPath: "seq" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}
function tx(mode, fn) {
  return db().then((d) => new Promise((resolve, reject) => {
    const t = d.transaction("outbox", mode);
    const out = fn(t.objectStore("outbox"));
    t.oncomplete = () => resolve(out && "result" in out ? out.result : undefined);
    t.onerror = () => reject(t.error);
  }));
}
function nextSeq() {
  const n = Number(localStorage.getItem("st.seq") || "0") + 1;
  localStorage.setItem("st.seq", String(n));
  return n;
}
async function enqueue(item) {
  item.seq = nextSeq();
  if (item.t === undefined) item.t = Date.now();
  await tx("readwrite", (s) => s.put(item));
  await refreshWaiting();
  pump();
}
async function refreshWaiting() {
  state.waiting = await tx("readonly", (s) => s.count());
  $("sync").textContent = state.waiting === 0 ? "All saved."
    : `${state.waiting} sample${state.waiting === 1 ? "" : "s"} waiting to be saved` + (state.ready ? "…" : " (offline, kept on this phone).");
}

// -- the connection to the server ---------------------------------------------------------------
function connect() {
  if (!state.token) return;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ auth: state.token }));
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => {
    state.ready = false;
    state.inFlight = false;
    state.ws = null;
    refreshWaiting();
    setTimeout(connect, 1000);
  };
  ws.onerror = () => ws.close();
}
async function pump() {
  if (!state.ready || state.inFlight) return;
  const items = await tx("readonly", (s) => s.getAll(null, BATCH));
  if (!items.length || !state.ready || state.inFlight) return;
  state.inFlight = true;
  state.ws.send(JSON.stringify({ type: "batch", sender: state.sender, items }));
}
async function onMessage(msg) {
  if (msg.type === "hello") {
    state.ready = true;
    pump();
  } else if (msg.type === "ack") {
    await tx("readwrite", (s) => s.delete(IDBKeyRange.upperBound(msg.seq)));
    state.inFlight = false;
    showLive(msg.live);
    await refreshWaiting();
    pump();
  } else if (msg.type === "prompt") {
    showPrompt(msg);
  } else if (msg.type === "recording") {
    $("paused").hidden = msg.on;
  } else if (msg.type === "error") {
    state.inFlight = false;
    $("sync").textContent = "The study server refused the data: " + msg.error;
  }
}

// -- Web Bluetooth ---------------------------------------------------------------------------------
const hex = (view) => Array.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  (b) => b.toString(16).padStart(2, "0")).join("");

async function pair() {
  const device = await navigator.bluetooth.requestDevice({
    filters: [{ services: [HR_SERVICE] }],
    optionalServices: [BATTERY_SERVICE, "device_information"],
  });
  state.device = device;
  device.addEventListener("gattserverdisconnected", onDisconnected);
  await openLink(device);
}
async function openLink(device) {
  const server = await device.gatt.connect();
  const hr = await (await server.getPrimaryService(HR_SERVICE)).getCharacteristic(HR_MEASUREMENT);
  hr.addEventListener("characteristicvaluechanged", (e) => {
    const t = Date.now();
    enqueue({ kind: "gatt", device: device.id, uuid: "2a37", data: hex(e.target.value), t });
  });
  await hr.startNotifications();
  state.hr = hr;
  await enqueue({ kind: "link", device: device.id, name: device.name || "", state: "connected" });
  $("link").textContent = "connected";
  $("connect").hidden = true;
  try {
    const bat = await (await server.getPrimaryService(BATTERY_SERVICE)).getCharacteristic(BATTERY_LEVEL);
    const v = await bat.readValue();
    await enqueue({ kind: "gatt", device: device.id, uuid: "2a19", data: hex(v) });
  } catch (e) { /* a band without a battery service */ }
}
async function onDisconnected() {
  state.hr = null;
  if (state.reconnecting) return;
  state.reconnecting = true;
  $("link").textContent = "reconnecting…";
  await enqueue({ kind: "link", device: state.device.id, state: "disconnected" });
  for (let i = 0; i < 30 && state.device; i++) {
    try { await openLink(state.device); state.reconnecting = false; return; } catch (e) {
      try { state.device.gatt.disconnect(); } catch (e2) { /* already down */ }
      await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** i)));
    }
  }
  state.reconnecting = false;
  $("link").textContent = "not connected";
  $("connect").hidden = false;
}

// -- what the participant sees ---------------------------------------------------------------------
const CONTACT = { detected: "good", not_detected: "adjust the strap a little", unsupported: "–" };
function showLive(live) {
  if (!live) return;
  $("battery").textContent = live.battery_pct == null ? "–" : `${live.battery_pct} %`;
  $("contact").textContent = CONTACT[live.contact] || "–";
  $("hr").textContent = live.hr_bpm == null ? "–" : `${Math.round(live.hr_bpm)} bpm`;
  if (state.me && state.me.show_stress && live.stress != null) {
    $("stress").textContent = live.stress >= 60 ? "a busy moment" : live.stress <= 40 ? "calm" : "steady";
  }
  if (live.prompt && (!state.prompt || state.prompt.prompt_id !== live.prompt.prompt_id)) showPrompt(live.prompt);
}
function showPrompt(p) {
  const fresh = !state.prompt || state.prompt.prompt_id !== p.prompt_id;
  state.prompt = p;
  $("prompt-text").textContent = p.message;
  $("prompt").hidden = false;
  if (fresh) notify(p);
}
// A system notification too, where the participant allowed them. Chrome on Android only shows
// them through the service worker (its Notification constructor throws there).
async function notify(p) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const options = { body: p.message, tag: p.prompt_id, data: { prompt_id: p.prompt_id } };
  try {
    const reg = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration() : null;
    if (reg) await reg.showNotification("A moment for you", options);
    else new Notification("A moment for you", options);
  } catch (e) { /* the prompt on the page is enough */ }
}
function answerPrompt(accepted) {
  const p = state.prompt;
  if (!p) return;
  state.prompt = null;
  $("prompt").hidden = true;
  enqueue({ kind: "prompt", prompt_id: p.prompt_id, accepted });
  if (accepted) startSession({ kind: p.session, mode: p.mode || "", label: p.label || "", title: "Self-care", minutes: 10 });
}
function startSession(s) {
  if (state.session) stopSession();
  if (state.guided) guidedEnd();
  state.session = { ...s, started: Date.now() };
  enqueue({ kind: "marker", action: "start", session: s.kind, mode: s.mode || "", label: s.label || "", t: state.session.started });
  $("session-name").textContent = s.title || s.kind;
  $("session-running").hidden = false;
  $("session-buttons").hidden = true;
}
function stopSession() {
  const s = state.session;
  if (!s) return;
  state.session = null;
  enqueue({ kind: "marker", action: "stop", session: s.kind, mode: s.mode || "", label: s.label || "" });
  $("session-running").hidden = true;
  $("session-buttons").hidden = false;
}
const clock = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
setInterval(() => {
  const s = state.session;
  if (!s) return;
  const secs = Math.max(0, Math.floor((Date.now() - s.started) / 1000));
  const left = s.minutes ? Math.max(0, s.minutes * 60 - secs) : secs;
  $("timer").textContent = clock(left) + (s.minutes ? " left" : "");
}, 1000);

// -- the guided session: the study's protocol phase by phase, each phase's start and end taken
// on this phone's clock (as collect --protocol marks them on the laptop's) --------------------
state.guided = JSON.parse(localStorage.getItem("st.guided") || "null");
function markPhase(action, i, t) {
  const p = state.me.protocol.phases[i];
  enqueue({ kind: "marker", action, session: p.kind, mode: p.mode, label: p.label, protocol: true, t });
}
function saveGuided() { localStorage.setItem("st.guided", JSON.stringify(state.guided)); }
function guidedStart() {
  if (state.session) stopSession();
  state.guided = { name: state.me.protocol.name, index: 0, started: Date.now() };
  markPhase("start", 0, state.guided.started);
  saveGuided();
  $("guided-done").hidden = true;
  showGuided();
}
function guidedNext(t) {  // the current phase ends at t; the next one starts then
  const g = state.guided;
  markPhase("stop", g.index, t);
  g.index += 1;
  g.started = t;
  if (g.index >= state.me.protocol.phases.length) {
    state.guided = null;
    $("guided-done").hidden = false;
  } else {
    markPhase("start", g.index, t);
  }
  saveGuided();
  showGuided();
}
function guidedEnd() {
  const g = state.guided;
  if (!g) return;
  markPhase("stop", g.index, Date.now());
  state.guided = null;
  saveGuided();
  showGuided();
}
function phaseEnd() {
  const g = state.guided;
  return g.started + state.me.protocol.phases[g.index].seconds * 1000;
}
function guidedTick() {
  if (!state.guided || !state.me || !state.me.protocol) return;
  // A phase ends after its duration on the phone's clock, even if the page was asleep then.
  while (state.guided && Date.now() >= phaseEnd()) guidedNext(phaseEnd());
  if (state.guided) $("guided-timer").textContent = clock(Math.ceil((phaseEnd() - Date.now()) / 1000));
}
function showGuided() {
  const proto = state.me && state.me.protocol;
  if (state.guided && (!proto || state.guided.name !== proto.name || state.guided.index >= proto.phases.length)) {
    state.guided = null;  // the study's protocol changed since: nothing to continue
    saveGuided();
  }
  $("guided").hidden = !proto;
  if (!proto) return;
  const g = state.guided;
  $("guided-about").textContent = proto.description || proto.name;
  $("guided-start").hidden = !!g;
  $("guided-running").hidden = !g;
  $("session-buttons").hidden = !!g || !!state.session;
  if (!g) return;
  const p = proto.phases[g.index];
  $("guided-step").textContent = `Step ${g.index + 1} of ${proto.phases.length}`;
  $("guided-phase").textContent = [p.kind, p.mode, p.label].filter(Boolean).join(" · ");
  $("guided-instruction").textContent = p.instruction || "";
  guidedTick();
}
setInterval(guidedTick, 250);

function render() {
  const me = state.me;
  $("enrol").hidden = !!me;
  $("consent").hidden = !me || !!me.consent;
  $("main").hidden = !me || !me.consent;
  if (!me) return;
  if (!me.consent) {
    $("consent-version").textContent = me.consent_form.version;
    $("consent-text").textContent = me.consent_form.text;
    return;
  }
  $("stress-label").hidden = $("stress").hidden = !me.show_stress;
  $("paused").hidden = me.recording;
  $("bt-unavailable").hidden = !!navigator.bluetooth;
  $("connect").hidden = !navigator.bluetooth || !!state.hr;
  const buttons = $("session-buttons");
  buttons.replaceChildren();
  me.sessions.forEach((s, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "quiet";
    b.id = `session-${i}`;
    b.textContent = s.title;
    b.onclick = () => startSession(s);
    buttons.append(b);
  });
  showLive(me.live);
  showGuided();
  $("notify-ask").hidden = !me.prompts || !("Notification" in window) || Notification.permission !== "default";
  if (!state.ws) connect();
}

async function api(path, body) {
  const r = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

$("enrol-form").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const me = await api("/api/enrol", { code: $("code").value });
    state.token = me.token;
    localStorage.setItem("st.token", me.token);
    history.replaceState(null, "", "/");
    state.me = me;
    localStorage.setItem("st.me", JSON.stringify(me));
    render();
  } catch (err) { $("enrol-error").textContent = err.message; }
};
$("consent-accept").onclick = async () => {
  state.me = await api("/api/consent", { accepted: true, version: state.me.consent_form.version, t: Date.now() });
  localStorage.setItem("st.me", JSON.stringify(state.me));
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  render();
};
$("connect").onclick = () => pair().catch((e) => { $("link").textContent = "not connected (" + e.message + ")"; });
$("session-stop").onclick = stopSession;
$("prompt-accept").onclick = () => answerPrompt(true);
$("prompt-dismiss").onclick = () => answerPrompt(false);
$("guided-start").onclick = guidedStart;
$("guided-next").onclick = () => guidedNext(Date.now());
$("guided-stop").onclick = guidedEnd;
$("notify-allow").onclick = () => Notification.requestPermission().then(() => render(), () => {});

window.stresstrack = { state, refreshWaiting };

(async () => {
  const m = location.hash.match(/code=([\w-]+)/);
  if (m) $("code").value = m[1];
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  if (state.token) {
    try {
      state.me = await api("/api/me");
      localStorage.setItem("st.me", JSON.stringify(state.me));
    } catch (e) {
      if (/enrolled/.test(e.message)) {
        localStorage.removeItem("st.token");
        localStorage.removeItem("st.me");
        state.token = null;
      } else {
        state.me = JSON.parse(localStorage.getItem("st.me") || "null");  // offline: last known
      }
    }
  }
  render();
  refreshWaiting();
})();
