"""Invitations: one unguessable link token per respondent, stored only as a hash.

A token is `secrets.token_urlsafe(32)` (256 random bits). On disk (`<workspace>/sessions/web/`, 0700):

- `tokens/<sha256(token)>.json`   -> {"respondent": ...}      (lookup by the presented token)
- `respondents/<respondent>.json` -> the `Invitation` (whose token hash must match: a reissued link
  revokes the old one, so a token always maps to exactly one respondent and a respondent to one token)
- `operator_token` (0600)           -> the operator token, made once and reused across restarts

A link expires `link_ttl_days` after it was issued (30 by default); the operator renews it (same link)
or reissues it (new link). Withdrawing a respondent deletes their invitation and token files.

Nobody, the operator included, can recover a token from the files; a lost link is reissued.
SHA-256 without salt is enough here: the tokens are random, not passwords.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from interviewer.errors import RespondentIdError
from interviewer.storage import validate_respondent
from simulacra.withdraw import Step, Withdrawal
from simulacra.workspace import atomic_write_json, atomic_write_text, private_dir

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
DEFAULT_LINK_TTL_DAYS = 30.0
OPERATOR_TOKEN_FILE = "operator_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _in_days(days: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds")


def stored_operator_token(folder: Path, explicit: str | None = None) -> str:
    """The operator token: `explicit` when given, else the one stored in `folder` (made once, 0600)."""
    if explicit:
        return explicit
    path = private_dir(Path(folder)) / OPERATOR_TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if _TOKEN_SHAPE.match(token):
            os.chmod(path, 0o600)  # a copied workspace may have loosened it
            return token
    token = secrets.token_urlsafe(32)
    atomic_write_text(path, token + "\n")
    return token


class Invitation(BaseModel):
    respondent: str
    token_sha256: str
    created_at: str
    consented_at: str | None = None
    label: str | None = None  # the operator's note (e.g. recruitment batch)
    name: str | None = None  # what the interviewer calls the respondent ({name} in the script)
    expires_at: str | None = None  # the link stops working then (None: an old invitation, see expired())

    def expiry(self, ttl_days: float = DEFAULT_LINK_TTL_DAYS) -> datetime:
        if self.expires_at:
            return datetime.fromisoformat(self.expires_at)
        return datetime.fromisoformat(self.created_at) + timedelta(days=ttl_days)

    def expired(self, ttl_days: float = DEFAULT_LINK_TTL_DAYS) -> bool:
        return datetime.now(timezone.utc) >= self.expiry(ttl_days)


class SessionRegistry:
    def __init__(self, folder: Path, link_ttl_days: float = DEFAULT_LINK_TTL_DAYS):
        self.link_ttl_days = link_ttl_days
        self.folder = private_dir(Path(folder))
        self._tokens = private_dir(self.folder / "tokens")
        self._respondents = private_dir(self.folder / "respondents")
        self._lock = threading.Lock()

    def _invitation_path(self, respondent: str) -> Path:
        return self._respondents / f"{validate_respondent(respondent)}.json"

    def invite(
        self, respondent: str | None = None, label: str | None = None, name: str | None = None
    ) -> tuple[str, Invitation]:
        """A fresh link token for `respondent` (a new random id when None). Reissuing revokes the old token;
        the respondent's transcript and consent are kept, so the new link resumes where they left off."""
        with self._lock:
            if respondent is None:
                respondent = "r-" + secrets.token_hex(5)
                while self._invitation_path(respondent).exists():
                    respondent = "r-" + secrets.token_hex(5)
            previous = self.get(respondent)
            token = new_token()
            digest = hash_token(token)
            invitation = Invitation(
                respondent=respondent,
                token_sha256=digest,
                created_at=_now(),
                consented_at=previous.consented_at if previous else None,
                label=label if label is not None else (previous.label if previous else None),
                name=name if name is not None else (previous.name if previous else None),
                expires_at=_in_days(self.link_ttl_days),
            )
            atomic_write_json(self._tokens / f"{digest}.json", {"respondent": respondent})
            atomic_write_json(self._invitation_path(respondent), invitation.model_dump())
            if previous is not None and previous.token_sha256 != digest:
                (self._tokens / f"{previous.token_sha256}.json").unlink(missing_ok=True)
            return token, invitation

    def get(self, respondent: str) -> Invitation | None:
        path = self._invitation_path(respondent)
        if not path.is_file():
            return None
        return Invitation.model_validate_json(path.read_text(encoding="utf-8"))

    def resolve(self, token: str | None, *, include_expired: bool = False) -> Invitation | None:
        """The invitation a presented token opens, or None (malformed, unknown, revoked or expired;
        `include_expired` returns an expired one, so the caller can say so)."""
        if not token or not _TOKEN_SHAPE.match(token):
            return None
        digest = hash_token(token)
        path = self._tokens / f"{digest}.json"
        if not path.is_file():
            return None
        try:
            respondent = json.loads(path.read_text(encoding="utf-8"))["respondent"]
            invitation = self.get(respondent)
        except (ValueError, KeyError):
            return None
        if invitation is None or not secrets.compare_digest(invitation.token_sha256, digest):
            return None
        if not include_expired and invitation.expired(self.link_ttl_days):
            return None
        return invitation

    def renew(self, respondent: str, days: float | None = None) -> Invitation:
        """Extend a link's life (the same link keeps working) by `days` from now (default: the ttl)."""
        return self._update(respondent, lambda invitation: {"expires_at": _in_days(days or self.link_ttl_days)})

    def _update(self, respondent: str, change: Callable[[Invitation], dict[str, str]]) -> Invitation:
        """Save the fields `change` returns for the respondent's invitation (KeyError when there is none)."""
        with self._lock:
            invitation = self.get(respondent)
            if invitation is None:
                raise KeyError(respondent)
            update = change(invitation)
            if update:
                invitation = invitation.model_copy(update=update)
                atomic_write_json(self._invitation_path(respondent), invitation.model_dump())
            return invitation

    def forget(self, respondent: str) -> int:
        """Delete the respondent's invitation and link token (withdrawal); the number of files removed."""
        with self._lock:
            path = self._invitation_path(respondent)
            removed = 0
            invitation = None
            try:
                invitation = self.get(respondent)
            except ValueError:
                pass
            if invitation is not None:
                token_file = self._tokens / f"{invitation.token_sha256}.json"
                if token_file.is_file():
                    token_file.unlink()
                    removed += 1
            for stale in self._tokens.glob("*.json"):  # any other token still naming them
                try:
                    if json.loads(stale.read_text(encoding="utf-8")).get("respondent") == respondent:
                        stale.unlink()
                        removed += 1
                except (ValueError, OSError):
                    continue
            if path.is_file():
                path.unlink()
                removed += 1
            return removed

    def record_consent(self, respondent: str, name: str | None = None) -> Invitation:
        """Consent is recorded once (its first time kept); a name given with it is remembered."""
        def consent(invitation: Invitation) -> dict[str, str]:
            update: dict[str, str] = {}
            if invitation.consented_at is None:
                update["consented_at"] = _now()
            if name and not invitation.name:
                update["name"] = name
            return update

        return self._update(respondent, consent)

    def all(self) -> list[Invitation]:
        found = []
        for path in sorted(self._respondents.glob("*.json")):
            try:
                found.append(Invitation.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError:
                continue
        return sorted(found, key=lambda inv: inv.created_at)


def _withdraw_web_session(found: Withdrawal) -> None:
    """Withdrawal step: the respondent's invitation (name, consent time) and link token. An id the web app could
    never have invited (withdrawal accepts '.' and '@', invitation files do not) has nothing here to remove."""
    try:
        validate_respondent(found.respondent)
    except RespondentIdError:
        return
    folder = found.workspace.root / "sessions" / "web"
    if folder.is_dir():
        removed = SessionRegistry(folder).forget(found.respondent)
        if removed:
            found.count("web_invitation_files", removed)


# The web app's part of a withdrawal, handed to `simulacra.withdraw` by whoever composes it (the app's default,
# experiments.wiring for every store).
WEB_SESSIONS_STEP = Step("web_sessions", remove=_withdraw_web_session)
