// The self-report form: the items of the open prompt (before/after a session, EMA), one
// slider each; answers go to POST /api/selfreport (docs/endpoints.md). Checks every minute.
"use strict";
(() => {
  const box = document.getElementById("selfreport");
  let shown = null;
  const auth = () => ({ "content-type": "application/json", authorization: `Bearer ${localStorage.getItem("st.token")}` });

  function render(prompt) {
    box.replaceChildren();
    const form = document.createElement("form");
    const h = document.createElement("h2");
    h.textContent = "A few quick questions";
    form.append(h);
    for (const item of prompt.items) {
      const label = document.createElement("label");
      label.textContent = item.question;
      const input = document.createElement("input");
      Object.assign(input, { type: "range", name: item.id, min: item.min, max: item.max, step: item.step });
      input.value = String((item.min + item.max) / 2);
      const out = document.createElement("output");
      out.textContent = input.value;
      input.oninput = () => { out.textContent = input.value; };
      const ends = document.createElement("p");
      ends.className = "note";
      ends.textContent = item.anchors.filter(Boolean).join(" … ");
      label.append(input, out);
      form.append(label, ends);
    }
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = "Send";
    const msg = document.createElement("p");
    msg.className = "note";
    msg.setAttribute("role", "alert");
    form.append(send, msg);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const input of form.querySelectorAll("input")) answers[input.name] = Number(input.value);
      let r;
      try {
        r = await fetch("/api/selfreport", { method: "POST", headers: auth(), body: JSON.stringify({ prompt_id: prompt.id, answers }) });
      } catch {  // offline: the answers stay on the form, to be sent again
        msg.textContent = "Not sent: no connection. Your answers are still here; please press Send again in a moment.";
        return;
      }
      const body = await r.json();
      if (r.ok) { box.hidden = true; shown = null; } else { msg.textContent = body.error; }
    };
    box.append(form);
    box.hidden = false;
  }

  async function check() {
    if (!localStorage.getItem("st.token")) return;
    try {
      const r = await fetch("/api/selfreport", { headers: auth() });
      if (!r.ok) return;
      const { prompt } = await r.json();
      if (prompt === null) { box.hidden = true; shown = null; }
      else if (prompt.id !== shown) { shown = prompt.id; render(prompt); }
    } catch { /* offline: ask again at the next check */ }
  }
  check();
  setInterval(check, 60_000);
})();
