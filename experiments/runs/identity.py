"""What a run is pinned to, and how two runs' identities differ (in words a user can act on).

A run's identity: its agents' stable content (`Agent.fingerprint()`), the instruments with a hash of every
question's wording, the model with its sampling and scoring settings, a hash of every prompt template the
answering path may use, and for experiments the study definitions. Resuming a run whose identity changed is
refused with the list of what changed (`--new-run` starts a new folder instead). The code version is not part
of the identity: each session records it (see the store's `sessions` table).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import simulacra
from simulacra import prompts
from surveys.names import check_name

# settings that change what a model is asked or how an answer is chosen (batch size and concurrency do not)
IDENTITY_SETTINGS = ("temperature", "samples", "max_tokens", "scoring", "reasoning", "debias", "leave_out", "folds",
                     "context_mode", "per_question_context", "use_router", "top_p", "seed", "answer_options")
# AnswerOptions fields that do not change what an answer is (how many questions share a call, retry bookkeeping)
OPTIONS_NOT_IDENTITY = {"batch_size", "retry_round", "max_attempts"}


def options_settings(options: Any) -> dict[str, Any]:
    """The AnswerOptions a run was asked with, as recorded in its manifest (identity-relevant fields only)."""
    return options.model_dump(mode="json", exclude=OPTIONS_NOT_IDENTITY)

_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_run_id(run_id: str, where: str | None = "--run-id") -> str:
    """A run id is a name, never a path: the one name rule of `surveys.names` (runs live in the workspace's runs/)."""
    return check_name(run_id, kind="run", where=where)


def safe_name(text: str) -> str:
    return _ID_SAFE.sub("-", text).strip("-.") or "run"


def short_hash(data: Any, n: int = 16) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def question_hash(question: Any) -> str:
    """A hash of a question's wording: text, kind, options (codes and labels), range and description (and the
    source wording when the text was derived from one; absent, it leaves the hash as it was before the field)."""
    exclude = {"instrument"} | ({"source_text"} if getattr(question, "source_text", None) is None else set())
    return short_hash(question.model_dump(mode="json", exclude=exclude))


def agent_fingerprint(agent: Any) -> str:
    """The agent's stable-content fingerprint (volatile retrieval state excluded; see `Agent.fingerprint`)."""
    return str(agent.fingerprint())[:16]


def prompt_template_hashes() -> dict[str, str]:
    """{template path: sha16} for every template the answering path may use."""
    return prompts.template_hashes(*prompts.ANSWER_TEMPLATE_DIRS)  # read at call time (tests point it elsewhere)


def code_version() -> dict[str, Any]:
    """The package version and, when run from a git checkout, its commit and whether the tree is dirty."""
    info: dict[str, Any] = {"simulacra": getattr(simulacra, "__version__", "unknown")}
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        return info
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        if commit:
            info["git_commit"] = commit
            dirty = subprocess.run(
                ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout.strip()
            info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def identity_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: settings[k] for k in IDENTITY_SETTINGS if k in settings and settings[k] is not None}


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two identities (see `RunManifest.identity`), one short phrase each."""
    out: list[str] = []
    old_agents, new_agents = old.get("agents", {}), new.get("agents", {})
    added = sorted(set(new_agents) - set(old_agents))
    removed = sorted(set(old_agents) - set(new_agents))
    if added:
        out.append(f"agents added: {', '.join(added[:5])}{' ...' if len(added) > 5 else ''}")
    if removed:
        out.append(f"agents removed: {', '.join(removed[:5])}{' ...' if len(removed) > 5 else ''}")
    for agent_id in sorted(set(old_agents) & set(new_agents)):
        a, b = old_agents[agent_id], new_agents[agent_id]
        if a.get("source") != b.get("source"):
            out.append(f"agent {agent_id} is now a {b.get('source')} agent (was {a.get('source')})")
        elif a.get("fingerprint") and b.get("fingerprint") and a["fingerprint"] != b["fingerprint"]:
            out.append(f"agent {agent_id} changed (its definition, memories or reflections)")
    old_ins, new_ins = old.get("instruments", {}), new.get("instruments", {})
    if list(old_ins) != list(new_ins):
        out.append(f"instruments {', '.join(old_ins) or '-'} -> {', '.join(new_ins) or '-'}")
    for ins in [i for i in new_ins if i in old_ins]:
        a, b = old_ins[ins], new_ins[ins]
        if list(a) != list(b):
            gone, extra = [q for q in a if q not in b], [q for q in b if q not in a]
            parts = []
            if extra:
                parts.append(f"added {', '.join(extra[:5])}")
            if gone:
                parts.append(f"removed {', '.join(gone[:5])}")
            out.append(f"questions of {ins}: {'; '.join(parts) or 'order changed'}")
        for q in [q for q in b if q in a]:
            if a[q] and b[q] and a[q] != b[q]:
                out.append(f"question {q} of {ins}: wording changed")
    om, nm = old.get("model") or {}, new.get("model") or {}
    if not isinstance(om, dict) or not isinstance(nm, dict):
        om, nm = {"model": om}, {"model": nm}
    for key in [k for k in nm if k in om]:  # a key an older run did not record is not a change
        if om[key] != nm[key]:
            out.append(f"model {om[key]} -> {nm[key]}" if key == "model" else f"model setting {key} {om[key]!r} -> {nm[key]!r}")
    os_, ns = old.get("settings", {}), new.get("settings", {})
    for key in sorted(set(os_) | set(ns)):
        if key == "answer_options" and isinstance(os_.get(key), dict) and isinstance(ns.get(key), dict):
            a, b = os_[key], ns[key]
            for option in sorted(set(a) | set(b)):
                if a.get(option) != b.get(option):
                    out.append(f"answer option {option} {a.get(option)!r} -> {b.get(option)!r}")
        elif os_.get(key) != ns.get(key):
            out.append(f"setting {key} {os_.get(key)!r} -> {ns.get(key)!r}")
    op, np_ = old.get("prompts", {}), new.get("prompts", {})
    if op:  # a run from before prompt pinning recorded none: nothing to compare
        for name in sorted(set(op) | set(np_)):
            if name not in op:
                out.append(f"prompt template {name} added")
            elif name not in np_:
                out.append(f"prompt template {name} removed")
            elif op[name] != np_[name]:
                out.append(f"prompt template {name} changed")
    ost, nst = old.get("studies", {}), new.get("studies", {})
    for sid in sorted(set(ost) | set(nst)):
        if sid not in ost:
            out.append(f"study {sid} added")
        elif sid not in nst:
            out.append(f"study {sid} removed")
        elif ost[sid] != nst[sid]:
            out.append(f"study {sid} definition changed")
    if old.get("seed") != new.get("seed"):
        out.append(f"seed {old.get('seed')} -> {new.get('seed')}")
    return out
