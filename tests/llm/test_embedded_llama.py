"""The embedded llama.cpp model: lazy grammar sampling gives the same JSON with less work; saved states are compact."""

from __future__ import annotations

import json

import llama_cpp
import numpy as np
import pytest
from llama_cpp.llama_grammar import LlamaGrammar

from simulacra.llm import open_llm
from simulacra.llm.lazy_grammar import SHORTLIST, GrammarStats, LazyGreedyGrammarSampler
from simulacra.llm.types import ChatRequest

pytestmark = pytest.mark.embedded

SCHEMA = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "answer": {"type": "string", "enum": ["too little", "about right", "too much"]},
    },
    "required": ["reasoning", "answer"],
}
TOPICS = ["space exploration", "the military", "foreign aid", "highways"]


def _request(topic: str, temperature: float = 0.0) -> ChatRequest:
    return ChatRequest(
        messages=[
            {"role": "system", "content": "You answer survey questions as a typical American adult. Reply in JSON."},
            {"role": "user", "content": f"Are we spending too much, too little or about the right amount on {topic}?"},
        ],
        max_tokens=80,
        temperature=temperature,
        json_schema=SCHEMA,
    )


@pytest.fixture
def backend():
    backend = open_llm().backend
    yield backend
    backend._llm.lazy_grammar = True


def _generate(backend, lazy: bool, temperature: float = 0.0) -> list[str]:
    backend._llm.lazy_grammar = lazy
    return [backend.run_sync(backend._complete_sync, _request(topic, temperature)).text for topic in TOPICS]


def test_lazy_and_full_grammar_write_the_same_json_at_temperature_zero(backend):
    stats = backend._llm.grammar_stats
    checked, fallbacks = stats.checked, stats.fallbacks
    full = _generate(backend, lazy=False)
    assert (stats.checked, stats.fallbacks) == (checked, fallbacks)  # the library's sampler did the full run
    lazy = _generate(backend, lazy=True)
    assert lazy == full
    assert all(json.loads(text)["answer"] in SCHEMA["properties"]["answer"]["enum"] for text in lazy if text.endswith("}"))
    assert stats.checked - checked > 40  # one check a generated token
    assert 0 < stats.fallbacks - fallbacks < stats.checked - checked  # the argmax was sometimes rejected


def test_sampling_above_temperature_zero_keeps_the_library_sampler(backend):
    stats = backend._llm.grammar_stats
    before = stats.checked
    backend.run_sync(backend._complete_sync, _request(TOPICS[0], temperature=0.7))
    assert stats.checked == before


def _sampler(backend, grammar_text: str) -> LazyGreedyGrammarSampler:
    llm = backend._llm
    return LazyGreedyGrammarSampler(llm._model, LlamaGrammar.from_string(grammar_text, verbose=False), llm._n_vocab, GrammarStats())


def _token(backend, text: str) -> int:
    ids = backend._llm.tokenize(text.encode(), add_bos=False, special=False)
    assert len(ids) == 1, f"{text!r} is not one token"
    return ids[0]


def _allowed_one_by_one(sampler: LazyGreedyGrammarSampler, n_vocab: int) -> np.ndarray:
    """Ground truth from single-token checks, a different path from the batched filter under test."""
    return np.array([t for t in range(n_vocab) if sampler._allows(t, 0.0)])


def test_rejected_argmax_falls_back_to_the_best_allowed_token(backend):
    n_vocab = backend._llm._n_vocab
    yes, no = _token(backend, "yes"), _token(backend, "no")
    sampler = _sampler(backend, 'root ::= "yes" | "no"')
    allowed = _allowed_one_by_one(sampler, n_vocab)  # "yes", "no" and their prefixes ("y", "n", ...)
    assert {yes, no} <= set(allowed.tolist()) and len(allowed) < 20
    logits = np.linspace(0.0, 1.0, n_vocab, dtype=np.float32)  # higher ids score higher
    assert allowed.max() < n_vocab - SHORTLIST  # so no allowed token is on the shortlist
    assert not sampler._allows(int(np.argmax(logits)), float(logits.max()))
    assert sampler._best_allowed(logits) == allowed.max()  # found by filtering the whole vocabulary
    logits[yes] = float(np.sort(logits)[-SHORTLIST // 2])  # yes now inside the shortlist
    assert sampler._best_allowed(logits) == yes
    logits[allowed] = -1.0
    logits[[yes, no]] = 0.5  # a tie: the lower token id wins, as llama.cpp's greedy sampler decides
    assert sampler._best_allowed(logits) == min(yes, no)


def test_a_grammar_that_allows_nothing_is_an_error_not_a_guess(backend):
    n_vocab = backend._llm._n_vocab
    sampler = _sampler(backend, 'root ::= "yes"')
    llama_cpp.llama_sampler_accept(sampler._grammar, _token(backend, "yes"))  # the grammar is now complete
    allowed = _allowed_one_by_one(sampler, n_vocab)
    vocab = backend._llm._model.vocab
    assert len(allowed) > 0 and all(llama_cpp.llama_vocab_is_eog(vocab, int(t)) for t in allowed)  # only an end
    logits = np.zeros(n_vocab, dtype=np.float32)
    logits[allowed] = -np.inf  # mask every end-of-generation token
    with pytest.raises(RuntimeError, match="allows no next token"):
        sampler._best_allowed(logits)


def test_saved_states_are_compact_and_restore_the_same_answers(backend):
    """Two agents' prompts alternate through the RAM cache: every answer equals the one a cold model gives."""
    llm = backend._llm
    context = " ".join(f"Fact {i}: they grew up near river {i}." for i in range(80))
    prompts = [
        ChatRequest(messages=[{"role": "system", "content": f"Person {who}. {context}"},
                              {"role": "user", "content": "Where did they grow up? One short sentence."}],
                    max_tokens=12)
        for who in ("A", "B")
    ]
    cold = []
    for request in prompts:
        llm.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=1 << 30))
        llm.reset()
        cold.append(backend.run_sync(backend._complete_sync, request).text)
    llm.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=1 << 30))
    llm.reset()
    warm = [backend.run_sync(backend._complete_sync, prompts[i % 2]).text for i in range(4)]  # A, B, A (restored), B (restored)
    assert warm == cold + cold
    states = list(llm.cache.cache_state.values())
    assert len(states) == 2 and all(state.n_tokens > 400 for state in states)
    assert all(state.scores.nbytes <= llm._n_vocab * 4 for state in states)  # one row, not n_batch rows
    assert all(len(state.input_ids) == state.n_tokens for state in states)
    assert backend.run_sync(backend._complete_sync, prompts[1]).text == cold[1]  # the same prompt again, straight from the KV cache
    options = prompts[0].messages[:1] + [{"role": "user", "content": "Near a river? Reply with one letter: A) yes B) no"}]
    first = backend.run_sync(backend._option_logprobs_sync, options, ["A", "B"]).logprobs
    assert backend.run_sync(backend._option_logprobs_sync, options, ["A", "B"]).logprobs == first  # exactly, not approximately


def test_a_prompt_one_token_past_a_chunk_gets_the_same_logits_as_any_other_split(backend):
    llm = backend._llm
    text = " ".join(f"Fact {i}: they like item {i}." for i in range(200))
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)[: llm.n_batch + 1]
    assert len(tokens) == llm.n_batch + 1  # llama-cpp-python would evaluate the last token as a chunk of its own

    def last_logits(*parts):
        llm.reset()
        for part in parts:
            llm.eval(part)
        pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(llm._n_vocab,)).copy()

    whole = backend.run_sync(last_logits, tokens)
    assert np.array_equal(whole, backend.run_sync(last_logits, tokens[:300], tokens[300:]))
    assert np.array_equal(whole, backend.run_sync(last_logits, tokens[:-2], tokens[-2:]))


def test_every_model_call_runs_on_one_thread(backend, monkeypatch):
    """llama.cpp keeps an OpenMP team per calling thread and idle teams spin: calls from a changing pool of
    threads ran 2-3x slower. Concurrent calls, and calls from separate event loops, all land on one thread."""
    import asyncio
    import threading

    from simulacra.llm import open_llm

    seen: set[str] = set()
    llama = backend._llm
    original = type(llama).eval

    def recording_eval(self, tokens):
        seen.add(threading.current_thread().name)
        return original(self, tokens)

    monkeypatch.setattr(type(llama), "eval", recording_eval)
    llm = open_llm(cache=False)
    assert llm.backend is backend

    async def several():
        questions = [[{"role": "user", "content": f"Name a colour ({i})."}] for i in range(4)]
        await asyncio.gather(*(llm.chat(q, max_tokens=3) for q in questions))
        await llm.option_logprobs([{"role": "user", "content": "Pick A or B."}], ["A", "B"])

    asyncio.run(several())
    asyncio.run(several())
    assert len(seen) == 1 and threading.current_thread().name not in seen
