"""Agents for the behavioral tests: demographic agents built from real GSS-style profiles, saved in a bank."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from surveys.paths import shared_data_dir

FIELDS = ["age", "sex", "race", "state", "political_views", "highest_degree_received", "work_status",
          "marital_status", "religion"]


def demographic_profiles(n: int) -> list[tuple[str, str, dict[str, str]]]:
    """(id, first name, fields) for the first `n` GSS demographic agents of the genagents sample."""
    path = shared_data_dir() / "genagents_sample" / "gss_demographic_agents_scratch.csv"
    profiles = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            profiles.append((f"gss-{row['agent_id'][:8]}", row["first_name"], {k: row[k] for k in FIELDS if row.get(k)}))
            if len(profiles) == n:
                break
    return profiles


@pytest.fixture
def demographic_bank(tmp_path):
    """A folder bank holding a few real-profile demographic agents (baselines of the paper)."""
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.baselines import DemographicAgent

    def build(n: int) -> Path:
        root = tmp_path / "bank"
        bank = AgentBank(root)
        for agent_id, name, fields in demographic_profiles(n):
            bank.save(DemographicAgent(id=agent_id, name=name, demographics=fields))
        return root

    return build
