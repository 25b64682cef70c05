"""Retrieval scoring, budgets, recency updates, and the chromadb store with the offline embedder."""

from __future__ import annotations

import pytest

from simulacra.agents.interview import InterviewAgent
from simulacra.agents.memory import MemoryNode, MemoryStore, RetrievalWeights, min_max, score_memories, select_within_budget


def node(i, created, last, importance, text="x"):
    return MemoryNode(id=i, text=text, created=created, last_retrieved=last, importance=importance)


def test_scores_match_hand_computation():
    # now = 10, decay 0.5: recency raw = 0.5**(10-last) -> last 10: 1, last 9: .5, last 8: .25
    nodes = [node(0, 1, 8, 20), node(1, 2, 9, 80), node(2, 3, 10, 50)]
    relevance = {0: 0.9, 1: 0.1, 2: 0.5}
    scores = score_memories(nodes, relevance, now=10, weights=RetrievalWeights(decay=0.5))
    # normalized: recency 0, 1/3, 1; importance 0, 1, 0.5; relevance 1, 0, 0.5
    assert scores[0] == pytest.approx(0 + 0 + 1)
    assert scores[1] == pytest.approx(1 / 3 + 1 + 0)
    assert scores[2] == pytest.approx(1 + 0.5 + 0.5)
    assert sorted(scores, key=scores.get, reverse=True) == [2, 1, 0]


def test_weights_change_the_order():
    nodes = [node(0, 1, 8, 20), node(1, 2, 9, 80), node(2, 3, 10, 50)]
    relevance = {0: 0.9, 1: 0.1, 2: 0.5}
    only_relevance = score_memories(nodes, relevance, 10, RetrievalWeights(recency=0, importance=0, relevance=1))
    assert sorted(only_relevance, key=only_relevance.get, reverse=True) == [0, 2, 1]
    only_importance = score_memories(nodes, relevance, 10, RetrievalWeights(recency=0, importance=1, relevance=0))
    assert sorted(only_importance, key=only_importance.get, reverse=True) == [1, 2, 0]


def test_constant_component_cannot_rank():
    assert min_max({1: 3.0, 2: 3.0}) == {1: 0.5, 2: 0.5}


def test_budget_takes_best_that_fit_and_returns_time_order():
    nodes = [node(0, 5, 5, 0, "a" * 40), node(1, 1, 1, 0, "b" * 400), node(2, 3, 3, 0, "c" * 40), node(3, 2, 2, 0, "d" * 40)]
    scores = {0: 0.9, 1: 3.0, 2: 0.5, 3: 0.1}
    count = lambda text: len(text) // 4  # noqa: E731
    chosen = select_within_budget(nodes, scores, budget=30, count_tokens=count)
    # node 1 (best) costs 102 > budget: skipped; then 0 (12), 2 (12) fit; 3 would make 36 > 30
    assert [n.id for n in chosen] == [2, 0]  # time order: created 3 then 5


@pytest.fixture
def store(tmp_path):
    return MemoryStore.persistent(tmp_path / "chroma")


def test_store_relevance_and_reindex(store, tmp_path):
    nodes = [
        MemoryNode(id=0, text="I grew up in Seoul, Korea, and moved to Boston at twelve.", created=1, last_retrieved=1),
        MemoryNode(id=1, text="I usually vote for Democrats and care about climate policy.", created=2, last_retrieved=2),
        MemoryNode(id=2, text="My dog and I go hiking every weekend.", created=3, last_retrieved=3),
    ]
    assert store.index("agent-1", nodes) == 3
    assert store.index("agent-1", nodes) == 0  # nothing embedded twice
    relevance = store.relevance("agent-1", "Which political party do you support in elections?")
    assert max(relevance, key=relevance.get) == 1
    reopened = MemoryStore.persistent(tmp_path / "chroma")  # persisted on disk, read back with our embedder
    assert max(reopened.relevance("agent-1", "pets and animals").items(), key=lambda kv: kv[1])[0] == 2


def test_retrieval_updates_recency(store):
    agent = InterviewAgent(id="r1", weights=RetrievalWeights(relevance=5)).attach(store)
    for text in ["I love baseball and go to games.", "I work as a nurse at night.", "My favourite food is kimchi stew."]:
        agent.add_memory(text, importance=50)
    clock_before = agent.clock
    chosen = agent.retrieve(["What sports do you follow?"], budget=12, count_tokens=lambda t: len(t.split()))
    assert [m.text for m in chosen] == ["I love baseball and go to games."]
    assert agent.clock == clock_before + 1
    assert chosen[0].last_retrieved == agent.clock
    others = [m for m in agent.memories if m.id != chosen[0].id]
    assert all(m.last_retrieved < agent.clock for m in others)
