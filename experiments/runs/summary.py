"""What `simulacra runs list | show` print: run folders summarised from their manifests and stores."""

from __future__ import annotations

from typing import Any

from simulacra.errors import SimulacraError
from simulacra.workspace import Workspace

from experiments.runs.folder import RunFolder


def list_runs(workspace: Workspace | None = None) -> list[dict[str, Any]]:
    """Every run folder of the workspace, oldest first; a folder that cannot be opened says why."""
    workspace = workspace or Workspace.default()
    rows = []
    for path in sorted(p for p in workspace.runs.iterdir() if (p / "manifest.json").is_file()):
        try:
            manifest = RunFolder(path).manifest
        except SimulacraError as exc:
            rows.append({"id": path.name, "kind": "?", "status": "unreadable", "agents": 0, "error": str(exc),
                         "created_at": 0.0})
            continue
        rows.append({
            "id": manifest.id, "kind": manifest.kind, "status": manifest.status, "agents": len(manifest.agents),
            "instruments": [i.id for i in manifest.instruments], "model": manifest.model.get("model"),
            "counts": manifest.counts, "created_at": manifest.created_at, "path": str(path),
        })
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


def describe_run(folder: RunFolder) -> dict[str, Any]:
    manifest = folder.refresh_manifest()
    data = manifest.model_dump(mode="json")
    for entry in data.get("studies", {}).values():
        entry.pop("definition", None)  # long; `simulacra experiment report` shows the studies
    return {"path": str(folder.path), "manifest": data, "sessions": folder.sessions()}
