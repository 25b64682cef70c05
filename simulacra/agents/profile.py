"""A first-person line from demographic fields (GSS-style scratchpads, transcript headers)."""

from __future__ import annotations

from typing import Any, Mapping

# Fields left out of the line: identifying or fictional details that say nothing about answers.
PRIVATE_FIELDS = {"first_name", "last_name", "name", "street_address", "agent_id", "id", "email", "phone"}


def clean_demographics(fields: Mapping[str, Any]) -> dict[str, str]:
    """String values only, blanks dropped (scratchpads mix numbers, strings and empty cells)."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        if value is None or isinstance(value, (dict, list)):
            continue
        text = str(value).strip()
        if text and text.lower() not in {"nan", "none given"}:
            out[str(key)] = text
    return out


def display_name(fields: Mapping[str, Any]) -> str | None:
    first = str(fields.get("first_name") or "").strip()
    last = str(fields.get("last_name") or "").strip()
    full = f"{first} {last}".strip() or str(fields.get("name") or "").strip()
    return full or None


def persona_line(demographics: Mapping[str, str]) -> str:
    """E.g. "I am 30 years old. Sex: Male. Political views: Slightly liberal. ..." (fields in given order)."""
    parts: list[str] = []
    for key, value in demographics.items():
        if key in PRIVATE_FIELDS:
            continue
        if key == "age":
            parts.append(f"I am {value} years old.")
            continue
        label = key.replace("_", " ").strip().capitalize()
        parts.append(f"{label}: {value}.")
    return " ".join(parts)
