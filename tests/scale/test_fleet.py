"""Inference fleets (simulacra.llm.fleet) against fake OpenAI-compatible replicas on loopback: configuration,
prefix affinity by consistent hashing, per-replica limits, a replica that goes away, round robin."""

from __future__ import annotations

import asyncio

import pytest

from simulacra.config import LLMSettings, load_settings
from simulacra.errors import ConfigError, EndpointError
from simulacra.llm import LLM, make_backend, open_llm
from simulacra.llm.fleet import FleetBackend, HashRing, parse_replica, prefix_scope

from tests.scale.fakes import FakeOpenAIServer


def fleet_llm(*servers, limit: int | None = None, routing: str = "affinity", cooldown: float = 30.0) -> LLM:
    urls = [s.base_url + (f"#{limit}" if limit else "") for s in servers]
    settings = LLMSettings(base_urls=urls, model="fake", api_key="x", max_retries=1)
    backend = FleetBackend(settings, routing=routing, cooldown=cooldown)
    return LLM(backend, settings.model_copy(update={"max_concurrency": backend.total_concurrency}))


async def ask(llm: LLM, key: str, text: str = "question") -> str:
    with prefix_scope(key):
        result = await llm.chat([{"role": "system", "content": f"context of {key} " * 20},
                                 {"role": "user", "content": text}])
    return result.text


def test_settings_name_a_fleet(monkeypatch):
    monkeypatch.setenv("SIMULACRA_BASE_URLS", "http://127.0.0.1:9/v1#3, http://127.0.0.1:10/v1")
    monkeypatch.setenv("SIMULACRA_MAX_CONCURRENCY", "5")
    settings = load_settings()
    assert settings.llm.base_urls == ["http://127.0.0.1:9/v1#3", "http://127.0.0.1:10/v1"]
    assert settings.llm.uses_endpoint and settings.llm.uses_fleet
    backend = make_backend(settings)
    assert isinstance(backend, FleetBackend)
    assert [r.limit for r in backend.replicas.values()] == [3, 5]
    assert open_llm(settings, cache=False).settings.max_concurrency == 8  # the sum of the replicas' limits
    assert parse_replica("http://h:8000/v1/#16", 4) == ("http://h:8000/v1", 16)
    with pytest.raises(ConfigError):
        parse_replica("h:8000#x", 4)


def test_consistent_hashing_moves_only_the_lost_replicas_keys():
    keys = [f"agent-{i}" for i in range(300)]
    full = HashRing(["a", "b", "c"])
    less = HashRing(["a", "b"])
    owners = {k: full.owner(k) for k in keys}
    assert set(owners.values()) == {"a", "b", "c"}
    for key in keys:
        if owners[key] != "c":
            assert less.owner(key) == owners[key]  # keys of the replicas that stayed do not move
        assert list(full.walk(key))[1:] != [] and len(set(full.walk(key))) == 3


def test_each_agent_goes_to_one_replica_and_its_prefix_is_warm_there():
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two, FakeOpenAIServer() as three:
        llm = fleet_llm(one, two, three)
        agents = [f"agent-{i}" for i in range(12)]

        async def go():
            for question in range(3):
                await asyncio.gather(*(ask(llm, a, f"question {question}") for a in agents))

        asyncio.run(go())
        servers = (one, two, three)
        assert sum(s.stats["calls"] for s in servers) == 36
        assert sum(1 for s in servers if s.stats["calls"]) >= 2  # spread over the fleet
        seen = [s.stats["prefixes"] for s in servers]
        assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])  # never one agent on two replicas
        stats = llm.backend.stats()
        assert sum(v["keys"] for v in stats.values()) == 12
        warm = sum(s.stats["cached_tokens"] for s in servers) / sum(s.stats["prompt_tokens"] for s in servers)
        assert warm > 0.5  # the second and third question of an agent find its context warm


def test_round_robin_spreads_one_agent_over_the_replicas():
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        llm = fleet_llm(one, two, routing="round_robin")

        async def go():
            for i in range(4):
                await ask(llm, "agent-1", f"q{i}")

        asyncio.run(go())
        assert one.stats["calls"] == two.stats["calls"] == 2


def test_per_replica_concurrency_limit():
    with FakeOpenAIServer(latency=0.15) as one:
        llm = fleet_llm(one, limit=2)

        async def go():
            await asyncio.gather(*(ask(llm, "agent-1", f"q{i}") for i in range(6)))

        asyncio.run(go())
        assert one.stats["calls"] == 6 and one.stats["max_in_flight"] == 2


def test_a_replica_that_goes_away_is_taken_out_and_its_agents_move():
    one, two = FakeOpenAIServer().start(), FakeOpenAIServer().start()
    try:
        llm = fleet_llm(one, two, cooldown=60)
        agents = [f"agent-{i}" for i in range(10)]
        backend = llm.backend
        on_one = [a for a in agents if backend.ring.owner(a) == one.base_url]
        assert on_one, "no agent hashed to the first replica"

        async def scenario():
            first = await asyncio.gather(*(ask(llm, a, "q1") for a in agents))
            one.stop()  # connection refused from now on
            second = await asyncio.gather(*(ask(llm, a, "q2") for a in agents))  # no failure: its agents move
            assert len(second) == len(first) == 10
            assert two.stats["calls"] == (10 - len(on_one)) + 10
            stats = backend.stats()
            assert stats[one.base_url]["healthy"] is False and stats[two.base_url]["healthy"] is True
            # only calls already on their way found it gone; the rest went straight to the second replica
            assert 1 <= stats[one.base_url]["failures"] <= len(on_one)
            two.stop()
            with pytest.raises(EndpointError, match="every replica"):
                await ask(llm, "agent-0", "q3")

        asyncio.run(scenario())
    finally:
        for server in (one, two):
            try:
                server.stop()
            except Exception:
                pass
