"""Console users, passwords and sign-in sessions.

Passwords are argon2id hashes (argon2-cffi); a session is a signed, time-limited cookie
(itsdangerous) holding only the user name, re-checked against the store on every request so a
deleted user or a changed role takes effect at once.  What each role may see and do is here,
in one table, and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from telephony.handoff.packet import mask_phone
from voicebot.records.models import ROLES, User
from voicebot.records.store import RecordStore

COOKIE = "vb_console"
SESSION_MAX_AGE_S = 12 * 3600
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8

#: page or action -> roles allowed.
PERMISSIONS: dict[str, frozenset[str]] = {
    "calls": frozenset({"supervisor", "script_designer", "agent"}),
    "play": frozenset({"supervisor", "script_designer", "agent"}),
    "correct": frozenset({"supervisor"}),
    "export": frozenset({"supervisor", "script_designer"}),
    "dashboard": frozenset({"supervisor"}),
    "live": frozenset({"supervisor", "agent"}),
    "claim": frozenset({"agent", "supervisor"}),
    "scripts": frozenset({"supervisor", "script_designer"}),
    "audit": frozenset({"supervisor"}),
}
#: what personal data each role sees in clear; everything else is masked.
SEES = {"supervisor": {"phone", "name"}, "agent": {"name"}, "script_designer": set()}

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str

    def may(self, what: str) -> bool:
        return self.role in PERMISSIONS[what]

    def phone(self, phone: str | None) -> str | None:
        return phone if "phone" in SEES[self.role] else mask_phone(phone)

    def name(self, name: str | None) -> str:
        if not name:
            return ""
        if "name" in SEES[self.role]:
            return name
        return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split())


def add_user(store: RecordStore, username: str, password: str, role: str, *, replace: bool = False) -> None:
    if not USERNAME.match(username):
        raise UserError(f"bad user name {username!r}: 2-64 letters, digits, _ . @ -")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    with store.session() as db:
        exists = db.get(User, username) is not None
    if exists and not replace:
        raise UserError(f"user {username!r} already exists (use --replace to reset the password/role)")
    hashed = _hasher.hash(password)

    def write(db) -> None:
        db.merge(User(username=username, password_hash=hashed, role=role, created_at=datetime.now(UTC)))
    store.write_now(write)


def verify(store: RecordStore, username: str, password: str) -> Principal | None:
    """The user if the password matches; None otherwise (unknown user or wrong password
    look alike, and both cost one hash so timing does not tell them apart)."""
    with store.session() as db:
        user = db.get(User, username)
    stored = user.password_hash if user else _DUMMY
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return Principal(user.username, user.role) if user else None


def lookup(store: RecordStore, username: str) -> Principal | None:
    with store.session() as db:
        user = db.get(User, username)
    return Principal(user.username, user.role) if user else None


def list_users(store: RecordStore) -> list[tuple[str, str]]:
    with store.session() as db:
        return [(u.username, u.role) for u in db.scalars(select(User).order_by(User.username))]


class Sessions:
    def __init__(self, secret: str):
        self._signer = URLSafeTimedSerializer(secret, salt="voicebot-console")

    def issue(self, principal: Principal) -> str:
        return self._signer.dumps({"u": principal.username})

    def read(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        return data.get("u") if isinstance(data, dict) else None


_DUMMY = _hasher.hash("not-a-password-anyone-has")
