"""`llama_cpp.Llama` with two fixes for how the embedded backend uses it (llama-cpp-python is pinned).

1. Greedy grammar-constrained generation checks one token a step (`lazy_grammar.py`) instead of filtering the
   whole vocabulary every token, the measured excess of JSON generation over the model's own speed (#13).
2. Saved prompt states are compact. With `logits_all=False` the library still copies its whole logits buffer
   (n_batch x n_vocab floats: 100 MB for SmolLM2, 310 MB for Qwen2.5) into every state it keeps in the RAM
   cache, and on every restore, and the cache does not count that buffer against its capacity. A restored
   state is always re-evaluated from its last token before sampling (`_requires_eval`), so only the last
   row is kept: the copies cost time on every agent switch and memory the cache cannot see.
3. Answers do not depend on what ran before. llama.cpp computes a one-token batch with other kernels than a
   longer one (SmolLM2: logits up to 0.53 apart, enough to flip a greedy answer), and the library re-reads
   only the last prompt token when the whole prompt is already in the KV cache or a restored state. So a
   repeated or restored prompt could be answered differently from a cold one. At least two prompt tokens
   are always evaluated, and no prompt ends in a one-token chunk, which gives the same logits whatever ran
   before (tests/llm/test_embedded_llama.py).
"""

from __future__ import annotations

import ctypes

import llama_cpp
import numpy as np

from simulacra.llm.lazy_grammar import GrammarStats, LazyGreedyGrammarSampler


class EmbeddedLlama(llama_cpp.Llama):
    lazy_grammar = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grammar_stats = GrammarStats()

    def _init_sampler(self, **kwargs):
        plain = (
            kwargs.get("temp") == 0.0
            and kwargs.get("logits_processor") is None
            and kwargs.get("repeat_penalty", 1.0) == 1.0
            and kwargs.get("frequency_penalty", 0.0) == 0.0
            and kwargs.get("presence_penalty", 0.0) == 0.0
        )
        grammar = kwargs.get("grammar")
        if self.lazy_grammar and grammar is not None and plain:
            return LazyGreedyGrammarSampler(self._model, grammar, self._n_vocab, self.grammar_stats)
        return super()._init_sampler(**kwargs)

    def eval(self, tokens) -> None:
        tokens = list(tokens)
        if len(tokens) > self.n_batch and len(tokens) % self.n_batch == 1:  # else the last chunk is one token
            super().eval(tokens[: self.n_batch - 1])
            tokens = tokens[self.n_batch - 1 :]
        super().eval(tokens)

    def generate(self, tokens, *args, **kwargs):
        tokens = list(tokens)
        if kwargs.get("reset", True) and len(tokens) >= 2 and self.n_tokens >= len(tokens) - 1:
            if list(self._input_ids[: len(tokens) - 1]) == tokens[:-1]:
                keep = len(tokens) - 2
                if self._ctx.kv_cache_seq_rm(-1, keep, -1):
                    self.n_tokens = keep
                    self._requires_eval = True
                else:  # this context cannot drop a tail: start over rather than keep stale cells
                    self.reset()
        return super().generate(tokens, *args, **kwargs)

    def save_state(self) -> llama_cpp.LlamaState:
        size = llama_cpp.llama_state_get_size(self._ctx.ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        written = int(llama_cpp.llama_state_get_data(self._ctx.ctx, buffer, size))
        if written > int(size):
            raise RuntimeError("llama.cpp wrote more state than it announced")
        last = self._scores[-1:, :].copy() if self.n_tokens else np.empty((0, self._n_vocab), dtype=np.single)
        return llama_cpp.LlamaState(
            input_ids=self.input_ids[: self.n_tokens].copy(),
            scores=last,
            n_tokens=self.n_tokens,
            llama_state=ctypes.string_at(buffer, written),
            llama_state_size=written,
            seed=self._seed,
        )

    def load_state(self, state: llama_cpp.LlamaState) -> None:
        row = min(state.n_tokens, self.scores.shape[0]) - 1
        if row >= 0 and len(state.scores):
            self.scores[row, :] = state.scores[-1]
        self.input_ids[: state.n_tokens] = state.input_ids[: state.n_tokens]
        self.n_tokens = state.n_tokens
        self._requires_eval = True  # logits are recomputed from the last restored token before any sampling
        self._seed = state.seed
        data = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if llama_cpp.llama_state_set_data(self._ctx.ctx, data, state.llama_state_size) != state.llama_state_size:
            raise RuntimeError("llama.cpp did not restore the saved state")
