"""Token estimation for backends without a tokenizer (and for dry-run cost estimates)."""

from __future__ import annotations


def approx_tokens(text: str) -> int:
    """A rough token count (about 4 characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
