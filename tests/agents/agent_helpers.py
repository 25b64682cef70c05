"""Helpers for agent tests: our transcript format from the real sample, a schema-following fake reply."""

from __future__ import annotations

import json
from pathlib import Path


def sample_transcript_jsonl(sample_dir: Path, path: Path, exchanges: int, answer_chars: int = 600) -> Path:
    """Our transcript format (JSONL turns) from the first real exchanges of the sample interview."""
    nodes = json.loads((sample_dir / "single_agent_memory_nodes.json").read_text())
    scratch = json.loads((sample_dir / "single_agent_scratch.json").read_text())
    lines = [{"type": "header", "respondent": "joon", "name": "Joon Park", "demographics": scratch}]
    index = 0
    for node in nodes:
        content = node["content"].strip()
        if "\n\nJoon:" not in content:
            continue
        asked, answered = content.split("\n\nJoon:", 1)
        asked = asked.removeprefix("Interviewer:").strip()
        lines.append({"index": index, "speaker": "interviewer", "text": asked, "question_id": f"q{len(lines)}", "kind": "scripted"})
        lines.append({"index": index + 1, "speaker": "respondent", "text": answered.strip()[:answer_chars], "kind": "answer"})
        index += 2
        if index // 2 >= exchanges:
            break
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def instance_for(schema: dict, pick=None):
    """The simplest JSON value valid under `schema` (what a grammar-constrained model could produce).

    `pick(enum_values)` chooses among enum values (default: the first).
    """
    if "enum" in schema:
        values = schema["enum"]
        return pick(values) if pick else values[0]
    kind = schema.get("type")
    if kind == "object":
        return {k: instance_for(v, pick) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [f"observation number {i + 1} about this person" for i in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0) + 1
    if kind == "number":
        return float(schema.get("minimum", 0) or 0)
    return "because of what they said"


def schema_responder(pick=None):
    """A FakeBackend reply function that answers any structured request validly."""
    import json as _json

    def reply(request):
        if request.json_schema is None:
            return "ok"
        return _json.dumps(instance_for(request.json_schema, pick))

    return reply
