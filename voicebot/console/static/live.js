// Polls the live board once a second: calls in progress with their partial transcripts, and
// the handoff queue with a Claim button for agents.  Text is always set with textContent.
(function () {
  const prefix = document.currentScript.dataset.prefix;  // no inline script: the CSP allows none
  const status = document.getElementById("live-status");
  const callsBox = document.getElementById("live-calls");
  const queueBody = document.querySelector("#queue tbody");
  const canClaim = document.getElementById("queue").dataset.canClaim === "yes";
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function renderCalls(calls) {
    callsBox.replaceChildren();
    for (const c of calls) {
      const box = el("div", "live-call " + (c.ongoing ? "ongoing" : "ended"));
      box.dataset.call = c.call_id;
      box.appendChild(el("h3", null, `${c.call_id} · ${c.account_id} · ${c.stage} · ${c.locale} · ` +
        (c.ongoing ? `${c.seconds} s` : `ended: ${c.outcome || ""}`)));
      const list = el("ol", "transcript");
      for (const t of c.turns) {
        const li = el("li", "turn");
        li.dataset.index = t.index;
        if (t.kind !== "opening") {
          const d = el("div", "line debtor");
          d.appendChild(el("span", "who", "debtor"));
          d.appendChild(el("span", "text", t.debtor_text || `(${t.kind})`));
          if (t.intent) {
            d.appendChild(el("span", "intent", t.intent));
            d.appendChild(el("span", "conf", (t.confidence || 0).toFixed(2)));
          }
          li.appendChild(d);
        }
        if (t.bot_text) {
          const b = el("div", "line bot");
          b.appendChild(el("span", "who", "bot"));
          b.appendChild(el("span", "text", t.bot_text));
          li.appendChild(b);
        }
        list.appendChild(li);
      }
      box.appendChild(list);
      callsBox.appendChild(box);
    }
  }
  function renderQueue(entries) {
    queueBody.replaceChildren();
    for (const q of entries) {
      const tr = el("tr", "state-" + q.state);
      tr.dataset.call = q.call_id;
      for (const v of [q.created_at.slice(11, 19), q.call_id, q.account_id, q.stage, q.reason, q.score,
                       q.state + (q.claimed_by ? " by " + q.claimed_by : "")]) tr.appendChild(el("td", null, v));
      const td = el("td");
      if (q.state === "waiting" && canClaim) {
        const f = el("form");
        f.method = "post";
        f.action = `${prefix}/live/${encodeURIComponent(q.queue)}/${encodeURIComponent(q.call_id)}/claim`;
        const b = el("button", "claim", "Claim");
        b.type = "submit";
        f.appendChild(b);
        td.appendChild(f);
      } else {
        const a = el("a", null, "context");
        a.href = `${prefix}/live/${encodeURIComponent(q.queue)}/${encodeURIComponent(q.call_id)}`;
        td.appendChild(a);
      }
      tr.appendChild(td);
      queueBody.appendChild(tr);
    }
  }
  async function poll() {
    try {
      const r = await fetch(`${prefix}/api/live`, {cache: "no-store"});
      if (r.status === 401) { location.href = `${prefix}/login?next=${prefix}/live`; return; }
      const data = await r.json();
      renderCalls(data.calls);
      renderQueue(data.queue);
      const n = data.calls.filter(c => c.ongoing).length;
      status.textContent = `${n} call(s) in progress · updated ${new Date().toLocaleTimeString()}` +
        (data.bus_unavailable ? " · live bus unavailable: calls shown from the records store, the agent queue is not" : "");
    } catch (e) {
      status.textContent = "live feed unavailable: " + e;
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
