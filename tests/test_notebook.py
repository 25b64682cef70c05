"""examples/quickstart.ipynb runs from top to bottom on the embedded model (smoke size) and shows the metrics
beside the reference conditions. Run under `flock /tmp/simulacra-model.lock` like every embedded test."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def _text(outputs: list) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])))
    return "".join(parts)


def test_the_notebook_is_small_and_kept_without_outputs():
    import nbformat

    assert NOTEBOOK.stat().st_size < 100_000
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.embedded
def test_the_quickstart_notebook_runs_on_the_embedded_model(isolated_workspace):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel inherits the environment: SIMULACRA_HOME is this test's workspace (conftest)
    client = NotebookClient(notebook, kernel_name="python3", timeout=900,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    text = "\n".join(_text(cell.get("outputs", [])) for cell in notebook.cells if cell.cell_type == "code")
    assert "Traceback" not in text, text
    assert "complete 12 answers written" in text  # 2 people x 2 agent kinds x 3 items
    assert "normalized_accuracy" in text
    assert "demographic agents" in text and "composite agents" in text
    assert "ref: majority of other people" in text  # the reference conditions, beside the agents and alone
    runs = [p for p in (isolated_workspace / "runs").iterdir() if (p / "report.html").is_file()]
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()
