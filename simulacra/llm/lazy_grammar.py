"""Greedy grammar-constrained decoding that checks one token a step, not the whole vocabulary.

Why: llama-cpp-python's sampler chain applies a JSON grammar to every token of the vocabulary at every
step (49,152 candidates for SmolLM2), and that per-token cost was the measured excess of constrained
generation over the model's own prefill+decode bound (#13, `benchmarks/batch_throughput.py`).

At temperature 0 the constrained answer is the highest-logit token among those the grammar allows. If
the plain argmax is allowed it *is* that token, so only that one token is checked; the whole vocabulary
is filtered only when it is rejected (llama.cpp's own `common_sampler` does the same). The output is
identical to the full-grammar path; any other sampling setting keeps the library's sampler untouched.
`embedded_llama.EmbeddedLlama` installs it (through llama-cpp-python internals: the version is pinned).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import llama_cpp
import numpy as np

SHORTLIST = 64  # tokens tried before the whole vocabulary when the argmax is rejected
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.float32), ("p", np.float32)], align=True)


@dataclass
class GrammarStats:
    """How often the single-token check sufficed (a low hit rate means the model fights the grammar)."""

    checked: int = 0
    fallbacks: int = 0


class LazyGreedyGrammarSampler:
    """Stands in for `llama_cpp._internals.LlamaSampler` in `Llama.generate` (which only calls `sample`)."""

    def __init__(self, model, grammar, n_vocab: int, stats: GrammarStats):
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the JSON grammar")
        self._n_vocab = n_vocab
        self._stats = stats
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all: ctypes.Array | None = None  # allocated on the first fallback only

    def sample(self, ctx, idx: int = -1) -> int:
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(np.argmax(logits))
        self._stats.checked += 1
        if not self._allows(token, float(logits[token])):
            self._stats.fallbacks += 1
            token = self._best_allowed(logits)
        llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def _allows(self, token: int, logit: float) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, logit, 0.0
        self._apply(self._one, 1)
        return self._one[0].logit != -np.inf

    def _best_allowed(self, logits: np.ndarray) -> int:
        """The first maximum among allowed tokens, as llama.cpp's greedy sampler picks it.

        The leading tokens are tried first: if any of them is allowed, the best of them beats every
        token outside (all of which have lower or equal logits and, on a tie, are included).
        """
        threshold = np.partition(logits, -SHORTLIST)[-SHORTLIST] if self._n_vocab > SHORTLIST else -np.inf
        for ids in (np.flatnonzero(logits >= threshold), None):
            best = self._best_of(logits, ids)
            if best is not None:
                return best
        raise RuntimeError("the JSON grammar allows no next token")

    def _best_of(self, logits: np.ndarray, ids: np.ndarray | None) -> int | None:
        ids = np.arange(self._n_vocab, dtype=np.intc) if ids is None else ids.astype(np.intc)
        if self._all is None:
            self._all = (llama_cpp.llama_token_data * self._n_vocab)()
        view = np.frombuffer(self._all, dtype=_TOKEN_DATA, count=len(ids))
        view["id"], view["logit"], view["p"] = ids, logits[ids], 0.0
        self._apply(self._all, len(ids))
        allowed = view["logit"]
        if not np.isfinite(allowed).any():
            return None
        return int(view["id"][np.argmax(allowed)])  # ids ascend, so this is the first maximum

    def _apply(self, data: ctypes.Array, size: int) -> None:
        candidates = llama_cpp.llama_token_data_array(
            data=ctypes.cast(data, llama_cpp.llama_token_data_p), size=size, selected=-1, sorted=False
        )
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(candidates))

    def __del__(self):
        if getattr(self, "_grammar", None):
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
