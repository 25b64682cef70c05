"""Throughput of the embedded model: prompt processing and generation tokens/s, and a question asked
after a cold vs a warm 4,000-token prefix (the effect of keeping an agent's context warm).

    .venv/bin/python benchmarks/llm_throughput.py [--prefix-tokens 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from simulacra.config import load_settings
from simulacra.llm import open_llm

WORDS = (
    "family work school church neighborhood garden music city river winter money health friends election "
    "kitchen brother sister teacher job retirement travel dog cat book movie truck farm bank union"
).split()


def filler(llm, tokens: int, seed: int) -> str:
    rng = random.Random(seed)
    sentences: list[str] = []
    text = ""
    while llm.count_tokens(text) < tokens:
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".")
        if len(sentences) % 20 == 0:
            text = " ".join(sentences)
    return " ".join(sentences)


async def main(prefix_tokens: int) -> None:
    llm = open_llm(load_settings(), cache=False)
    print(f"model: {llm.model} (context {llm.context_size})")

    # generation speed: short prompt, long answer
    started = time.perf_counter()
    gen = await llm.chat([{"role": "user", "content": "Write a long story about a farmer."}], max_tokens=200)
    seconds = time.perf_counter() - started
    print(f"generation: {gen.usage.completion_tokens} tokens in {seconds:.2f}s = {gen.usage.completion_tokens / seconds:.1f} tok/s")

    # prompt processing: a cold prompt of `prefix_tokens`, one token out
    context = filler(llm, prefix_tokens, seed=1)
    cold_messages = [{"role": "system", "content": "Notes about the person: " + context}]
    question_a = cold_messages + [{"role": "user", "content": "Does the person mention a farm? Answer yes or no."}]
    started = time.perf_counter()
    cold = await llm.chat(question_a, max_tokens=1)
    cold_s = time.perf_counter() - started
    print(
        f"prompt processing: {cold.usage.prompt_tokens_evaluated} tokens in {cold_s:.2f}s = "
        f"{cold.usage.prompt_tokens_evaluated / cold_s:.1f} tok/s"
    )

    # same prefix, a different question: the prefix stays warm
    question_b = cold_messages + [{"role": "user", "content": "Does the person mention a bank? Answer yes or no."}]
    started = time.perf_counter()
    warm = await llm.chat(question_b, max_tokens=8)
    warm_s = time.perf_counter() - started

    # another agent's prefix in between, then back: served from the RAM cache of states
    other = [{"role": "system", "content": "Notes about the person: " + filler(llm, prefix_tokens, seed=2)}]
    await llm.chat(other + [{"role": "user", "content": "Answer yes or no: a dog?"}], max_tokens=1)
    started = time.perf_counter()
    back = await llm.chat(cold_messages + [{"role": "user", "content": "Does the person mention a river? Answer yes or no."}], max_tokens=8)
    back_s = time.perf_counter() - started

    started = time.perf_counter()
    cold_again = await llm.chat(
        [{"role": "system", "content": "Notes about the person: " + filler(llm, prefix_tokens, seed=3)}]
        + [{"role": "user", "content": "Does the person mention a bank? Answer yes or no."}],
        max_tokens=8,
    )
    cold2_s = time.perf_counter() - started
    print(f"question after a cold {cold_again.usage.prompt_tokens}-token prefix: {cold2_s:.2f}s "
          f"({cold_again.usage.prompt_tokens_evaluated} prompt tokens evaluated)")
    print(f"question after a warm prefix: {warm_s:.2f}s ({warm.usage.prompt_tokens_evaluated} prompt tokens evaluated)")
    print(f"switch back to an earlier agent's prefix: {back_s:.2f}s ({back.usage.prompt_tokens_evaluated} evaluated)")
    print(f"ratio cold/warm: {cold2_s / warm_s:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix-tokens", type=int, default=4000)
    asyncio.run(main(parser.parse_args().prefix_tokens))
