"""The embedded default: a llama.cpp model in this process (no API key, no network).

Facts this follows (measured on the 2-core project machines):
- llama-cpp-python is built with CMAKE_ARGS=-DGGML_NATIVE=OFF (the native build's AMX path segfaults);
- `n_threads=2` (its default uses one core here and halves the speed);
- llama.cpp keeps the KV cache of the longest common token prefix with the previous call, so prompts are
  built prefix-stable (fixed context first, the question last) and callers group work by agent;
  a `LlamaRAMCache` keeps several agents' prefixes so switching back is cheap.

Prompts are rendered with the model's own chat template (from the GGUF metadata) and tokenized here, so
the same token prefix serves generation, grammar-constrained JSON, and option log-probabilities.
Greedy JSON generation checks the grammar one token at a time (`lazy_grammar.py`), not over the vocabulary.
Calls are serialized by a lock (one model, one context) and all run on one dedicated thread: llama.cpp's
OpenMP runtime keeps a team of worker threads per calling thread, and an idle team's workers keep spinning,
so a model called from the event loop's changing pool threads ran 2-3x slower once a second thread had called
it (measured: decode 36 ms/token against 14; `benchmarks/batch_throughput.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from simulacra.config import LLMSettings
from simulacra.errors import ConfigError
from simulacra.extras import require
from simulacra.llm.models import resolve_local_model
from simulacra.llm.types import BackendReply, ChatRequest, Message, OptionScores, Usage
from simulacra.workspace import Workspace

log = logging.getLogger(__name__)

RAM_CACHE_BYTES = 1 << 30
DEFAULT_CONTEXT = 8192  # SmolLM2's training context; larger models are capped here to keep memory modest


class LocalLlamaBackend:
    is_local = True
    _instances: dict[tuple[str, int, int], "LocalLlamaBackend"] = {}
    _instances_lock = threading.Lock()

    def __init__(self, model_path: Path, n_ctx: int | None = None, n_threads: int = 2):
        require("local", "llama_cpp", "the embedded local model (no [llm] base_url set)")
        try:
            import llama_cpp  # the [local] extra: checked by require() above, loaded only here
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            from simulacra.llm.embedded_llama import EmbeddedLlama  # (llama.cpp, as above)
        except ImportError as exc:  # pragma: no cover - install problem
            raise ConfigError("llama-cpp-python is not installed: run scripts/setup.sh") from exc
        self._llama_cpp = llama_cpp
        self.model_path = Path(model_path)
        self.model = f"local:{self.model_path.name}"
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        llm = EmbeddedLlama(
            model_path=str(self.model_path),
            n_ctx=n_ctx or DEFAULT_CONTEXT,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=512,
            logits_all=False,
            verbose=False,
        )
        self._llm = llm
        self.context_size = llm.n_ctx()
        llm.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=RAM_CACHE_BYTES))
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{self.model_path}: the GGUF file has no chat template, so it cannot be used for chat")
        vocab_model = llm._model
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        self._eos_text = vocab_model.token_get_text(eos_id) if eos_id != -1 else ""
        self._bos_text = vocab_model.token_get_text(bos_id) if bos_id != -1 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=self._eos_text, bos_token=self._bos_text)
        self._grammars: dict[str, Any] = {}

    @classmethod
    def shared(cls, settings: LLMSettings, workspace: Workspace | None = None) -> "LocalLlamaBackend":
        """One loaded model per process and configuration (loading costs time and memory)."""
        path = resolve_local_model(settings.local_model, workspace)
        key = (str(path), settings.context_size or 0, settings.local_threads)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(path, settings.context_size, settings.local_threads)
            return cls._instances[key]

    # -- prompt building -------------------------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        return self._formatter(messages=messages).prompt

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        text = self.render(messages)
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        bos = self._llm.token_bos()
        if self._llm._model.add_bos_token() and bos != -1 and (not tokens or tokens[0] != bos):
            tokens = [bos] + tokens
        if len(tokens) >= self.context_size:
            raise ConfigError(
                f"prompt of {len(tokens)} tokens does not fit the local model's context of {self.context_size} "
                "(use retrieved-memory context, a smaller token budget, or a larger SIMULACRA_CONTEXT_SIZE)"
            )
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _grammar(self, schema: dict[str, Any]):
        key = json.dumps(schema)  # property order matters: the grammar writes fields in this order
        if key not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def _perf(self) -> tuple[int, int]:
        data = self._llama_cpp.llama_perf_context(self._llm._ctx.ctx)
        return int(data.n_p_eval), int(data.n_eval)

    # -- calls --------------------------------------------------------------------------------------------
    def _complete_sync(self, request: ChatRequest) -> BackendReply:
        tokens = self.prompt_tokens(request.messages)
        max_tokens = min(request.max_tokens, self.context_size - len(tokens) - 1)
        with self._lock:
            p_before, e_before = self._perf()
            out = self._llm.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=request.temperature,
                seed=request.seed if request.seed is not None else 0,
                stop=[self._eos_text] + list(request.stop or []) if self._eos_text else request.stop,
                grammar=self._grammar(request.json_schema) if request.json_schema else None,
                repeat_penalty=1.0,
            )
            p_after, e_after = self._perf()
        usage = out["usage"]
        completion = usage["completion_tokens"]
        evaluated = max(0, (p_after - p_before) + (e_after - e_before) - completion)
        return BackendReply(
            text=out["choices"][0]["text"],
            usage=Usage(usage["prompt_tokens"], completion, min(evaluated, usage["prompt_tokens"])),
            finish_reason=out["choices"][0].get("finish_reason"),
        )

    async def complete(self, request: ChatRequest) -> BackendReply:
        return await self._on_model_thread(self._complete_sync, request)

    def _option_logprobs_sync(self, messages: list[Message], options: list[str]) -> OptionScores:
        first: dict[str, int] = {}
        for option in options:
            ids = self._llm.tokenize(option.encode("utf-8"), add_bos=False, special=False)
            if not ids:
                raise ValueError(f"option label {option!r} has no tokens")
            first[option] = ids[0]
        if len(set(first.values())) != len(first):
            raise ValueError(f"option labels {options} share a first token: use distinct short labels (A, B, C ...)")
        tokens = self.prompt_tokens(messages)
        captured: dict[str, np.ndarray] = {}

        def grab(_input_ids, scores):  # copies the last logits; leaves sampling untouched
            captured["scores"] = np.array(scores, dtype=np.float64, copy=True)
            return scores

        with self._lock:
            p_before, e_before = self._perf()
            self._llm.create_completion(
                prompt=tokens,
                max_tokens=1,
                temperature=0.0,
                logits_processor=self._llama_cpp.LogitsProcessorList([grab]),
            )
            p_after, e_after = self._perf()
        # one token is sampled and never evaluated (max_tokens=1): every token llama.cpp evaluated was prompt
        evaluated = min(len(tokens), (p_after - p_before) + (e_after - e_before))
        scores = captured["scores"]
        shifted = scores - scores.max()
        log_norm = np.log(np.exp(shifted).sum())
        logprobs = {option: float(shifted[token] - log_norm) for option, token in first.items()}
        return OptionScores(logprobs, Usage(len(tokens), 1, evaluated))

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> OptionScores:
        return await self._on_model_thread(self._option_logprobs_sync, messages, options)

    async def _on_model_thread(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def run_sync(self, function, *args):
        """Run `function(*args)` on the model's thread and wait: for synchronous callers (tests, benchmarks)
        that touch the model directly, so they do not start another OpenMP team."""
        return self._thread.submit(function, *args).result()

    async def aclose(self) -> None:  # the shared model stays loaded for the life of the process
        return None
