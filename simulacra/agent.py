"""The public face of the agent interface: `from simulacra.agent import Agent, AnswerOptions, PriorStep`.

Callers outside `simulacra.agents` (runners, experiments, the interviewer) import from here. The classes
live in `simulacra.agents.base`, beside the answering loop they call, so the package has no import cycle.
"""

from simulacra.agents.base import Agent
from simulacra.agents.options import AgentSource, AnswerOptions, ContextFn, PriorStep

__all__ = ["Agent", "AgentSource", "AnswerOptions", "ContextFn", "PriorStep"]
