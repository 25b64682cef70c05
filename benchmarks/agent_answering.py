"""One agent built from the real sample transcript answers GSS items on the embedded model, three ways:

1. cold:    one call per question, the whole agent context re-read each time (KV cache cleared);
2. warm:    one call per question, the agent's context kept warm as a shared prompt prefix;
3. batched: several questions per call, with the warm prefix.

All three use the same agent context (the same retrieved memories and expert notes), so the difference
is only how much prompt the model has to read. Prints prompt tokens sent, prompt tokens the model
actually evaluated (`llm.usage.prompt_tokens_evaluated`: the warm prefix excluded), wall time, and the
ratios against the first way. Goal: the best way evaluates at least 10x fewer prompt tokens than way 1.

    .venv/bin/python benchmarks/agent_answering.py [--items 30] [--batch-size 10] [--reflections 6]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from experiments.demo import sample_agent_folder
from simulacra.agent import Agent, AnswerOptions
from simulacra.agents.bank import AgentBank
from simulacra.agents.build import add_expert_reflections, import_genagents
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.router import route_questions
from simulacra.config import load_settings
from simulacra.llm import LLM, open_llm
from simulacra.workspace import Workspace
from surveys.instruments import load_instrument
from surveys.model import AnswerStatus


def forget_prefix(llm: LLM, keep_ram_cache: bool) -> None:
    """Make the next call start cold: drop llama.cpp's KV state (and its RAM prefix cache for way 1)."""
    backend = llm.backend
    model = getattr(backend, "_llm", None)
    if model is None:  # an endpoint: nothing local to clear
        return
    model.reset()
    if keep_ram_cache:
        import llama_cpp

        model.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=1 << 30))
    else:
        model.set_cache(None)


class FixedContext(Agent):
    """The sample agent's context frozen once, so the three ways differ only in how the prompt is read.

    With `cold`, the model's KV state is dropped before every call's context is handed out, so each call
    re-reads the whole context.
    """

    source: str = "interview"
    text: str
    cold: bool = False

    async def prepare(self, questions, *, llm, options):
        def context_for(_group):
            if self.cold:
                forget_prefix(llm, keep_ram_cache=False)
            return self.text

        return context_for

    def context_groups(self, questions, options):
        questions = list(questions)
        return [questions[i : i + options.batch_size] for i in range(0, len(questions), options.batch_size)]

    def context_preview(self, questions, **kwargs) -> str:
        return self.text


async def one_way(name: str, llm_base: LLM, context: str, questions, batch_size: int, cold: bool) -> dict:
    llm = LLM(llm_base.backend, llm_base.settings, cache=None)  # fresh meter, no response cache
    forget_prefix(llm, keep_ram_cache=not cold)
    agent = FixedContext(id="benchmark", text=context, cold=cold)

    started = time.perf_counter()
    answers = await agent.answer(questions, llm=llm, options=AnswerOptions(batch_size=batch_size))
    seconds = time.perf_counter() - started
    return {
        "way": name,
        "calls": llm.usage.calls,
        "prompt_tokens": llm.usage.prompt_tokens,
        "evaluated": llm.usage.prompt_tokens_evaluated,
        "completion_tokens": llm.usage.completion_tokens,
        "seconds": seconds,
        "ok": sum(a.status == AnswerStatus.ok for a in answers),
        "answers": len(answers),
    }


async def main(items: int, batch_size: int, reflections: int) -> None:
    settings = load_settings()
    root = Path(tempfile.mkdtemp(prefix="simulacra-bench-"))
    try:
        llm = open_llm(settings, cache=False)
        bank = AgentBank(root / "bank")
        started = time.perf_counter()
        [agent] = await import_genagents(sample_agent_folder(Workspace(root)), None, bank, reflections=False)
        assert isinstance(agent, InterviewAgent)
        if reflections:
            await add_expert_reflections(agent, llm, limit=reflections)
        bank.save(agent)
        print(f"model: {llm.model} (context {llm.context_size}); agent {agent.id}: {len(agent.observations())} "
              f"observations, {len(agent.reflections())} reflections, built in {time.perf_counter() - started:.0f}s")

        gss = load_instrument("gss").questions
        step = max(1, len(gss) // items)
        questions = gss[::step][:items]
        print(f"{len(questions)} GSS items: {', '.join(q.id for q in questions)}")

        # The agent's context for these questions, as InterviewAgent.answer builds it: routed experts'
        # notes plus the interview (retrieved memories for the embedded model's 8k context).
        mode = agent.resolve_context_mode(llm, settings.memory.context_mode)
        routing = LLM(llm.backend, llm.settings, cache=None)
        started = time.perf_counter()
        routes = await route_questions(routing, questions)
        experts = sorted({routes.get(q.id) for q in questions} - {None})
        context = agent.build_context(questions, llm.count_tokens, mode, experts, settings.memory.token_budget)
        print(f"routing: {routing.usage.calls} calls, {time.perf_counter() - started:.1f}s; "
              f"agent context: {llm.count_tokens(context)} tokens ({mode})")

        rows = []
        for name, size, cold in (("1 cold, one per call", 1, True), ("2 warm, one per call", 1, False),
                                 (f"3 warm, {batch_size} per call", batch_size, False)):
            row = await one_way(name, llm, context, questions, size, cold)
            rows.append(row)
            print(f"  {row['way']}: {row['calls']} calls, {row['evaluated']} prompt tokens evaluated "
                  f"(of {row['prompt_tokens']} sent), {row['completion_tokens']} generated, {row['seconds']:.1f}s, "
                  f"{row['ok']}/{row['answers']} valid", flush=True)

        base = rows[0]
        print("\nway                        evaluated  ratio   seconds  ratio")
        for row in rows:
            print(f"{row['way']:<26} {row['evaluated']:>9}  {base['evaluated'] / max(1, row['evaluated']):>5.1f}x "
                  f"{row['seconds']:>8.1f}  {base['seconds'] / max(1e-9, row['seconds']):>5.1f}x")
        best = max(base["evaluated"] / max(1, r["evaluated"]) for r in rows[1:])
        print(f"\nbest way reads {best:.1f}x fewer prompt tokens than way 1 (goal: >= 10x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=30, help="GSS items to answer (default 30)")
    parser.add_argument("--batch-size", type=int, default=10, help="questions per call in way 3 (default 10)")
    parser.add_argument("--reflections", type=int, default=6, help="observations per expert (0: none)")
    args = parser.parse_args()
    asyncio.run(main(args.items, args.batch_size, args.reflections))
