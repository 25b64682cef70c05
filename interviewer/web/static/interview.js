// The respondent's page: consent, then turns of (listen -> answer by voice or text -> saved).
// The link's token is in the URL fragment (#...), never sent as part of a URL; API calls carry it
// as a bearer token. Every server reply after an answer means "saved", shown as a checkpoint.
"use strict";

(function () {
  const token = decodeURIComponent(location.hash.replace(/^#(t=)?/, ""));
  const $ = (id) => document.getElementById(id);
  const screens = ["loading", "link-problem", "consent-screen", "interview-screen", "paused-screen", "finished-screen", "withdrawn-screen"];

  const state = {
    pending: null,        // the utterance waiting for an answer
    recorder: null,
    stream: null,
    chunks: [],
    recordStarted: 0,
    discardRecording: false,
    audio: null,          // the <audio> now speaking
    audioUrl: null,
    busy: false,
    speechToText: true,
    textToSpeech: true,
    interviewer: "the interviewer",
  };

  function show(id) {
    for (const s of screens) $(s).hidden = s !== id;
    const heading = $(id).querySelector("h1");
    if (heading && !heading.classList.contains("visually-hidden")) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  class ApiError extends Error {
    constructor(status, code, detail) { super(detail); this.status = status; this.code = code; }
  }

  async function api(path, options = {}, attempts = 4) {
    const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    let lastError = null;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let response;
      try {
        response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
      } catch (networkError) {      // offline, server restarting: wait and retry
        lastError = networkError;
        await new Promise((r) => setTimeout(r, 1000 * Math.pow(2, attempt)));
        continue;
      }
      if (response.ok) return response;
      let body = {};
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      throw new ApiError(response.status, body.error || "http_" + response.status, body.detail || response.statusText);
    }
    connectionLost();
    throw lastError || new Error("connection lost");
  }

  async function apiJson(path, options, attempts) {
    return (await api(path, options, attempts)).json();
  }

  function connectionLost() {
    setState("idle", "The connection was lost.");
    $("reconnect").hidden = false;
  }

  function setError(message) {
    $("error").textContent = message || "";
    $("error").hidden = !message;
  }

  function setState(kind, text) {
    const avatar = $("avatar");
    avatar.classList.forEach((name) => { if (name.startsWith("state-")) avatar.classList.remove(name); });
    avatar.classList.add("state-" + kind);
    $("state").textContent = text;
  }

  function markSaved() {
    const saved = $("saved");
    saved.hidden = false;
    saved.textContent = "Saved at " + new Date().toLocaleTimeString();
    const avatar = $("avatar");
    avatar.classList.remove("flash-saved");
    void avatar.offsetWidth;           // restart the animation
    avatar.classList.add("flash-saved");
  }

  function showProgress(progress) {
    if (!progress) return;
    const parts = [];
    if (progress.question_number) parts.push("Question " + progress.question_number + " of " + progress.total_questions);
    if (progress.block_label || progress.block) parts.push(progress.block_label || progress.block);
    $("progress").textContent = parts.join(" · ");
  }

  function setAnswerControls(enabled) {
    $("record").disabled = !enabled || !state.speechToText;
    $("typed-send").disabled = !enabled;
    $("skip").disabled = !enabled;
  }

  // ---- the interviewer speaks -------------------------------------------------------------------
  function stopSpeaking() {
    if (state.audio) { state.audio.pause(); state.audio = null; }
    if (state.audioUrl) { URL.revokeObjectURL(state.audioUrl); state.audioUrl = null; }
  }

  async function fetchPart(utterance, part) {
    const response = await api(utterance.audio_url + "/" + part, {}, 2);
    return URL.createObjectURL(await response.blob());
  }

  function playUrl(url) {
    return new Promise((resolve) => {
      const audio = new Audio(url);
      state.audio = audio;
      audio.onended = () => resolve(true);
      audio.onerror = () => resolve(false);
      audio.play().catch(() => resolve(false));   // autoplay refused or no sound device
    });
  }

  // Plays the utterance part by part; the next part downloads while the current one plays.
  async function speak(utterance) {
    stopSpeaking();
    if (!utterance.audio_url || !utterance.audio_parts) return;
    const stillCurrent = () => state.pending === utterance || !utterance.expects_answer;
    try {
      let next = fetchPart(utterance, 0);
      for (let part = 0; part < utterance.audio_parts; part++) {
        const url = await next;
        next = part + 1 < utterance.audio_parts ? fetchPart(utterance, part + 1) : null;
        if (!stillCurrent() || !state.audio && part > 0) { URL.revokeObjectURL(url); break; }
        state.audioUrl = url;
        const played = await playUrl(url);
        URL.revokeObjectURL(url);
        state.audioUrl = null;
        if (!played || state.audio === null) break;   // stopped (answer started, pause) or cannot play
      }
      if (next) next.then((url) => URL.revokeObjectURL(url)).catch(() => {});
    } catch (e) {
      // The words are on screen; a voice failure must not stop the interview.
    }
  }

  async function present(result) {
    showProgress(result.progress);
    const utterance = result.utterance;
    if (!utterance) { finish(); return; }
    state.pending = utterance.expects_answer ? utterance : null;
    $("subtitles").textContent = utterance.text;
    setAnswerControls(utterance.expects_answer);
    setState("speaking", state.interviewer + " is speaking…");
    // An acknowledgement ("I see.") is said while the interviewer decides: ask for the line after it at once.
    const following = !utterance.expects_answer && !result.done
      ? apiJson("/api/session/next", { method: "POST" }).then((r) => ({ result: r }), (e) => ({ error: e }))
      : null;
    await speak(utterance);
    if (following) {
      setState("thinking", state.interviewer + " is thinking…");
      const next = await following;
      if (next.error) { if (next.error instanceof ApiError) setError(next.error.message); return; }
      await present(next.result);
      return;
    }
    if (!utterance.expects_answer) { finish(); return; }
    if (state.pending === utterance && !state.recorder && !state.busy) {
      setState("listening", state.speechToText ? "Your turn: press “Start answering” and speak, or type your answer." : "Your turn: type your answer.");
    }
  }

  function finish() {
    stopSpeaking();
    state.pending = null;
    setAnswerControls(false);
    show("finished-screen");
  }

  async function loadNext() {
    setState("thinking", "Loading…");
    try {
      await present(await apiJson("/api/session/next", { method: "POST" }));
    } catch (e) {
      if (e instanceof ApiError) setError(e.message);
    }
  }

  // ---- answers ----------------------------------------------------------------------------------
  async function afterAnswer(promise) {
    state.busy = true;
    setAnswerControls(false);
    setState("thinking", state.interviewer + " is thinking…");
    try {
      const result = await promise;
      setError("");
      $("heard").textContent = result.heard ? "Your answer: “" + result.heard + "”" : "";
      if (result.saved) markSaved();
      state.busy = false;
      await present(result);
      return true;
    } catch (e) {
      state.busy = false;
      if (e instanceof ApiError) {
        setError(e.message);
        if (e.status === 409) { await loadNext(); return false; }
        if (e.code === "interviewer_unavailable") { setTimeout(loadNext, 3000); return false; }
      }
      if (state.pending) {
        setAnswerControls(true);
        setState("listening", "Please try again.");
      }
      return false;
    }
  }

  function pickMimeType() {
    const candidates = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/ogg", "audio/mp4"];
    if (!window.MediaRecorder || !MediaRecorder.isTypeSupported) return "";
    return candidates.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  }

  async function startRecording() {
    if (!state.pending) return;
    stopSpeaking();
    setError("");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      setError("The microphone could not be used (" + e.name + "). You can type your answer instead.");
      openTyped();
      return;
    }
    const mimeType = pickMimeType();
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    state.stream = stream;
    state.recorder = recorder;
    state.chunks = [];
    state.discardRecording = false;
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) state.chunks.push(event.data); };
    recorder.onstop = onRecordingStopped;
    recorder.start(1000);
    state.recordStarted = performance.now();
    $("record").textContent = "Stop and send answer";
    $("record").classList.add("recording");
    $("skip").disabled = true;
    setState("recording", "Recording your answer… press “Stop and send answer” when you are done.");
  }

  function stopRecording(discard) {
    if (!state.recorder) return;
    state.discardRecording = !!discard;
    if (state.recorder.state !== "inactive") state.recorder.stop();
  }

  async function onRecordingStopped() {
    const recorder = state.recorder;
    const type = (recorder.mimeType || state.chunks[0]?.type || "audio/webm");
    const blob = new Blob(state.chunks, { type });
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.recorder = null;
    state.stream = null;
    $("record").textContent = "Start answering";
    $("record").classList.remove("recording");
    if (state.discardRecording || !state.pending) return;
    const durationS = (performance.now() - state.recordStarted) / 1000;
    const answerTo = state.pending.turn_index;
    await afterAnswer(apiJson("/api/session/answer/audio?answer_to=" + answerTo, {
      method: "POST",
      headers: { "Content-Type": type.split(";")[0], "X-Recording-Seconds": durationS.toFixed(2) },
      body: blob,
    }, 1));
  }

  function openTyped() {
    $("typed-form").hidden = false;
    $("type-toggle").setAttribute("aria-expanded", "true");
    $("type-toggle").textContent = "Hide typing box";
    $("typed-answer").focus();
  }

  async function sendTyped(event) {
    event.preventDefault();
    const text = $("typed-answer").value.trim();
    if (!text) { setError("Please type an answer first."); return; }
    if (!state.pending) return;
    stopSpeaking();
    const ok = await afterAnswer(apiJson("/api/session/answer/text", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, answer_to: state.pending.turn_index }),
    }, 1));
    if (ok) $("typed-answer").value = "";
  }

  // ---- wiring -----------------------------------------------------------------------------------
  async function startInterview() {
    show("interview-screen");
    await loadNext();
  }

  async function init() {
    if (!token) { show("link-problem"); return; }
    let session;
    try {
      session = await apiJson("/api/session");
    } catch (e) {
      if (e instanceof ApiError) $("link-problem-text").textContent = e.message;
      show("link-problem");
      if (e instanceof ApiError && e.code === "link_expired") $("withdraw-box").hidden = false;  // may still withdraw
      return;
    }
    state.speechToText = session.speech_to_text && !!(navigator.mediaDevices && window.MediaRecorder);
    state.textToSpeech = session.text_to_speech;
    state.interviewer = session.interviewer_name || state.interviewer;
    document.querySelectorAll(".interviewer-name").forEach((el) => { el.textContent = state.interviewer; });
    document.querySelector(".avatar-initial").textContent = state.interviewer.charAt(0).toUpperCase();
    if (!state.speechToText) { openTyped(); $("record").hidden = true; document.body.classList.add("typed-only"); }
    if (session.name) $("name-input").value = session.name;
    $("withdraw-box").hidden = false;
    if (!session.consented) { show("consent-screen"); return; }
    await startInterview();
  }

  $("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!$("consent-check").checked) return;
    $("consent-button").disabled = true;
    try {
      await apiJson("/api/session/consent", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: $("name-input").value.trim() || null }),
      });
      await startInterview();
    } catch (e) {
      $("consent-button").disabled = false;
      alert(e.message);
    }
  });

  $("record").addEventListener("click", () => (state.recorder ? stopRecording(false) : startRecording()));
  $("typed-form").addEventListener("submit", sendTyped);
  $("type-toggle").addEventListener("click", () => {
    if ($("typed-form").hidden) { openTyped(); return; }
    $("typed-form").hidden = true;
    $("type-toggle").setAttribute("aria-expanded", "false");
    $("type-toggle").textContent = "Type your answer instead";
  });
  $("subtitles-toggle").addEventListener("click", () => {
    const box = $("subtitles-box");
    box.hidden = !box.hidden;
    $("subtitles-toggle").setAttribute("aria-pressed", String(!box.hidden));
    $("subtitles-toggle").textContent = box.hidden ? "Show " + state.interviewer + "’s subtitles" : "Hide subtitles";
  });
  $("skip").addEventListener("click", () => {
    if (!state.pending) return;
    stopSpeaking();
    afterAnswer(apiJson("/api/session/skip", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answer_to: state.pending.turn_index }),
    }, 1));
  });
  $("pause").addEventListener("click", async () => {
    stopRecording(true);
    stopSpeaking();
    show("paused-screen");
    try { await api("/api/session/pause", { method: "POST" }); } catch (e) { /* the clock pauses on the next call */ }
  });
  $("resume").addEventListener("click", async () => {
    await startInterview();
  });
  $("reconnect").addEventListener("click", () => location.reload());
  $("withdraw").addEventListener("click", async () => {
    if (!window.confirm("Delete your interview and everything made from it? This cannot be undone.")) return;
    stopRecording(true);
    stopSpeaking();
    $("withdraw").disabled = true;
    try {
      await apiJson("/api/session/withdraw", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ confirm: true }),
      }, 1);
      $("withdraw-box").hidden = true;
      show("withdrawn-screen");
    } catch (e) {
      $("withdraw").disabled = false;
      $("withdraw-error").textContent = e.message;
      $("withdraw-error").hidden = false;
    }
  });
  window.addEventListener("hashchange", () => location.reload());

  init();
})();
