"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("st.researcher");

async function api(path, body) {
  const r = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
const fmt = (x, d = 0) => (x == null ? "–" : Number(x).toFixed(d));
const ago = (ms) => (ms == null ? "–" : `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago`);

function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.append(td); return td; }
function button(td, text, fn) {
  const b = document.createElement("button"); b.type = "button"; b.className = "quiet"; b.textContent = text; b.onclick = fn; td.append(b); return b;
}

async function refresh() {
  let data;
  try { data = await api("/api/researcher/participants"); } catch (e) {
    $("login-error").textContent = e.message; $("board").hidden = true; $("login").hidden = false; return;
  }
  $("login").hidden = true; $("board").hidden = false;
  $("study").textContent = data.study;
  if (data.grafana_url) { $("grafana").href = data.grafana_url; $("grafana").hidden = false; }
  const rows = $("rows");
  rows.replaceChildren();
  for (const p of data.participants) {
    const tr = document.createElement("tr");
    tr.dataset.participant = p.participant;
    cell(tr, p.participant);
    cell(tr, p.consent ? p.consent.version : "not yet");
    cell(tr, p.connected ? "connected" : "–");
    cell(tr, p.contact || "–");
    cell(tr, p.battery_pct == null ? "–" : `${p.battery_pct} %`);
    cell(tr, ago(p.last_data_ms));
    cell(tr, fmt(p.hr_bpm));
    cell(tr, fmt(p.rmssd_ms, 1));
    cell(tr, fmt(p.scl_us, 2));
    cell(tr, fmt(p.stress));
    cell(tr, p.session || "–");
    const rec = cell(tr, p.recording ? "on " : "paused ");
    button(rec, p.recording ? "Pause" : "Resume", () => api("/api/researcher/recording", { participant: p.participant, on: !p.recording }).then(refresh));
    const enrol = cell(tr, "");
    button(enrol, "New code", async () => {
      const c = await api("/api/researcher/codes", { participant: p.participant });
      const out = $("code-out");
      out.hidden = false;
      const code = Object.assign(document.createElement("code"), { id: "code", textContent: c.code });
      const qr = Object.assign(document.createElement("img"), { id: "qr", src: c.qr, alt: `QR code of the enrolment link for ${c.participant}` });
      const link = Object.assign(document.createElement("code"), { id: "code-link", textContent: c.url });
      out.replaceChildren(
        Object.assign(document.createElement("p"), { textContent: `One-time code for ${c.participant}: ` }), qr,
        Object.assign(document.createElement("p"), { className: "note", textContent: "Scan it with the participant's phone camera, or open the link and type the code:" }), link);
      out.firstChild.append(code);
      out.scrollIntoView({ block: "nearest" });
    });
    rows.append(tr);
  }
}
$("login").onsubmit = (e) => {
  e.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("st.researcher", token);
  refresh();
};
if (token) refresh();
setInterval(() => { if (token) refresh(); }, 2000);
