"""A scripted stand-in for the interviewer's model (decisions and notes), for unit tests."""

from __future__ import annotations

import json
import re
from typing import Callable

from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest


class InterviewerModel:
    """Plays the interviewer's model: decisions by a policy of the prompt, notes from the answers seen.

    `policy(prompt_text) -> "follow_up" | "move_on"`; the default asks one follow-up per question (it reads
    the follow-up count from the prompt, so the same prompt always gets the same reply, as a real cached
    model would).
    """

    def __init__(self, policy: Callable[[str], str] | None = None):
        self.policy = policy or (lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on")
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
        action = self.policy(prompt)
        question = re.search(r'Scripted question now being discussed: "(.*)"', prompt).group(1)
        count = re.search(r"asked on this question: (\d+)\.", prompt).group(1)
        return json.dumps({
            "assessment": f"The answer covers part of the objective; {count} follow-ups so far.",
            "action": action,
            "follow_up": f"Could you say more about that? ({question[:30]} #{count})" if action == "follow_up" else "",
        })

    def decision_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "FollowUpDecision"]

    def notes_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "NotesUpdate"]
