// Operator view: list sessions with their progress, create invitation links, download transcripts.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let token = decodeURIComponent(location.hash.replace(/^#/, "")) || sessionStorage.getItem("operator-token") || "";

  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      const error = new Error(body.detail || response.statusText);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  function showError(message) {
    $("op-error").textContent = message || "";
    $("op-error").hidden = !message;
  }

  function minutes(seconds) {
    if (seconds == null) return "";
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    return m + " min " + s + " s";
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  async function download(respondent) {
    try {
      const response = await api("/api/operator/sessions/" + encodeURIComponent(respondent) + "/transcript");
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = respondent + ".jsonl";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
    } catch (e) { showError(e.message); }
  }

  async function refresh() {
    let data;
    try {
      data = await (await api("/api/operator/sessions")).json();
    } catch (e) {
      showError(e.message);
      if (e.status === 401) { sessionStorage.removeItem("operator-token"); $("token-form").hidden = false; $("op-main").hidden = true; }
      return;
    }
    showError("");
    sessionStorage.setItem("operator-token", token);
    $("token-form").hidden = true;
    $("op-main").hidden = false;
    $("engines").textContent = "Script: " + (data.script || "?") + " · speech-to-text: " + (data.speech_to_text || "off") +
      " · text-to-speech: " + (data.text_to_speech || "off");
    const body = $("sessions");
    body.textContent = "";
    for (const s of data.sessions) {
      const row = document.createElement("tr");
      cell(row, s.respondent);
      cell(row, s.label);
      cell(row, s.consented_at ? "yes" : "not yet");
      const p = s.progress;
      cell(row, p ? (p.finished ? "finished" : "question " + p.question_number + " of " + p.total_questions + (p.block_label ? " (" + p.block_label + ")" : "")) : (s.error || "not started"));
      cell(row, p ? minutes(p.elapsed_s) : "");
      cell(row, s.turns);
      cell(row, s.last_saved);
      const t = s.last_turn_latency;
      cell(row, t ? "total " + t.total_s + " s (speech-to-text " + t.stt_s + ", model " + t.model_s + ", voice " + (t.tts_s ?? "–") + ")" : "");
      const td = cell(row, "");
      if (s.has_transcript) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Download " + s.respondent + ".jsonl";
        button.addEventListener("click", () => download(s.respondent));
        td.appendChild(button);
      }
      const renew = document.createElement("button");
      renew.type = "button";
      renew.textContent = (s.expired ? "Link expired: renew" : "Renew link") + " (expires " + (s.expires_at || "?").slice(0, 10) + ")";
      renew.addEventListener("click", () => act(s.respondent, "renew", null));
      td.appendChild(renew);
      const withdraw = document.createElement("button");
      withdraw.type = "button";
      withdraw.className = "danger";
      withdraw.textContent = "Withdraw " + s.respondent;
      withdraw.addEventListener("click", () => {
        if (window.confirm("Delete everything of " + s.respondent + " (transcript, agents, answers in runs, caches)? This cannot be undone.")) {
          act(s.respondent, "withdraw", { confirm: true });
        }
      });
      td.appendChild(withdraw);
      body.appendChild(row);
    }
  }

  async function act(respondent, action, payload) {
    try {
      await api("/api/operator/sessions/" + encodeURIComponent(respondent) + "/" + action, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload || {}),
      });
      refresh();
    } catch (e) { showError(e.message); }
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token-input").value.trim();
    refresh();
  });
  $("refresh").addEventListener("click", refresh);
  $("invite-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {
      respondent: $("invite-respondent").value.trim() || null,
      name: $("invite-name").value.trim() || null,
      label: $("invite-label").value.trim() || null,
    };
    try {
      const data = await (await api("/api/operator/sessions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
      })).json();
      const result = $("invite-result");
      result.textContent = "Link for " + data.respondent + " (shown once; send it privately): ";
      const code = document.createElement("code");
      code.className = "link";
      code.textContent = data.link;
      result.appendChild(code);
      $("invite-form").reset();
      refresh();
    } catch (e) { showError(e.message); }
  });

  if (location.hash) history.replaceState(null, "", location.pathname);  // keep the token out of history
  if (token) refresh(); else $("token-form").hidden = false;
})();
