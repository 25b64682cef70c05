"""A scripted stand-in for the interviewer's model (decisions, rephrases and notes), for unit tests."""

from __future__ import annotations

import json
import re
from typing import Callable, Iterable

from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest

# Distinct, specific questions the fake interviewer asks (each is said after a reference to the answer, so it is
# on topic and never a repeat of another).
FOLLOW_UP_POOL = (
    "how did that change things for you?",
    "who else was part of that?",
    "when did that start?",
    "what stands out most when you look back on that?",
    "how do you feel about it today?",
    "what would you do differently now?",
    "where were you living at the time?",
    "what did your family think about that?",
)


def _last_answer(prompt: str) -> str:
    found = re.findall(r"Interviewee: (.*)", prompt)
    return found[-1].strip() if found else ""


class InterviewerModel:
    """Plays the interviewer's model: decisions by a policy of the prompt, notes from the answers seen.

    `policy(prompt_text) -> "follow_up" | "move_on"`; the default asks one follow-up per question (it reads
    the follow-up count from the prompt, so the same prompt always gets the same reply, as a real cached
    model would). `follow_ups`, when given, are the follow-up texts proposed in turn (one per decision call,
    regenerations included), to feed the engine each failure shape; `rephrases` likewise for rephrase calls.
    """

    def __init__(
        self,
        policy: Callable[[str], str] | None = None,
        *,
        follow_ups: Iterable[str] | None = None,
        rephrases: Iterable[str] | None = None,
    ):
        self.policy = policy or (lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on")
        self.follow_ups = iter(follow_ups) if follow_ups is not None else None
        self.rephrases = iter(rephrases) if rephrases is not None else None
        self.backend = FakeBackend(default=self.reply)
        self.llm = LLM(self.backend)

    def reply(self, request: ChatRequest) -> str:
        prompt = "\n".join(m["content"] for m in request.messages)
        if request.schema_name == "BatchReply":  # an agent answering the interviewer (simulacra.agents)
            asked = re.findall(r"(Q\d+)", request.messages[-1]["content"])
            key = asked[0] if asked else "Q1"
            return json.dumps({key: {"reasoning": "I think back.", "answer": f"I grew up near the lake ({len(self.backend.requests)})."}})
        if request.schema_name == "NotesUpdate":
            old = re.findall(r"^- (.+)$", prompt.split("Here is a conversation")[0], re.M)
            facts = re.findall(r"Interviewee: (.{0,60})", prompt)
            return json.dumps({"bullets": old + [f"Said: {f.strip()}" for f in facts]})
        if request.schema_name == "Rephrase":
            asked = re.search(r'You asked: "(.*)"', prompt).group(1)
            text = next(self.rephrases) if self.rephrases is not None else "In other words, what would you say about " + " ".join(asked.rstrip(".?!").split()[-4:]) + "?"
            return json.dumps({"question": text})
        first = "\n".join(m["content"] for m in request.messages[:2])
        action = self.policy(first)
        question = re.search(r'Scripted question now being discussed: "(.*)"', first).group(1)
        count = int(re.search(r"asked on this question: (\d+)\.", first).group(1))
        if action == "follow_up" and self.follow_ups is not None:
            follow_up = next(self.follow_ups)
        elif action == "follow_up":
            answer = " ".join(_last_answer(first).rstrip(".!?").split()[:6])
            pick = FOLLOW_UP_POOL[(sum(map(ord, question)) + count) % len(FOLLOW_UP_POOL)]
            follow_up = f"You said {answer}, and {pick}"
        else:
            follow_up = ""
        return json.dumps({
            "assessment": f"The answer covers part of the objective; {count} follow-ups so far.",
            "action": action,
            "follow_up": follow_up,
        })

    def decision_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "FollowUpDecision"]

    def notes_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "NotesUpdate"]


def assert_follow_ups_pass(turns, script, name: str, similarity_fn=None) -> int:
    """Every follow-up or rephrase in `turns` that came from a model or the probe set passes the checks, judged
    on what had been said before it; a curated rephrase re-asks the line before it. Returns how many were checked."""
    from interviewer.validation import check_follow_up

    items = {q.id: (b, q) for b, q in script.items()}
    checked = 0
    for position, turn in enumerate(turns):
        if turn.speaker != "interviewer" or turn.kind != "follow_up":
            continue
        decision = turn.meta["decision"]
        block, question = items[turn.question_id]
        before = turns[:position]
        if decision.get("source") == "curated":
            assert turn.text.endswith(before[-2].text), turn.text
            continue
        target = before[-2].text if decision["action"] == "rephrase" else question.text.replace("{name}", name)
        earlier = [t.text for t in before if t.speaker == "interviewer" and not (decision["action"] == "rephrase" and t.text == target)]
        result = check_follow_up(
            turn.text, question=target, answer="" if decision["action"] == "rephrase" else before[-1].text,
            objective=question.objective or "", block=block.label or block.id, earlier=earlier, similarity_fn=similarity_fn,
        )
        assert result.ok, (turn.text, result.explain())
        checked += 1
    return checked
