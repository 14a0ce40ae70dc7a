"""Console users, passwords and sign-in sessions.

Passwords are argon2id hashes (argon2-cffi); a session is a signed, time-limited cookie
(itsdangerous) holding the user name and a session id. Both are checked against the store on
every request: a deleted user or a changed role takes effect at once, and a session that was
signed out, or whose user's password was reset, no longer opens anything even though its
cookie is still validly signed (a stolen cookie dies with the session).  What each role may see and do is here,
in one table, and nowhere else.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update

from voicebot.console.masking import AMOUNT, BIRTH_DATE, CONTACT, NAME, Known, Masker
from voicebot.records.models import ROLES, ConsoleSession, User
from voicebot.records.store import RecordStore

COOKIE = "vb_console"
SESSION_MAX_AGE_S = 12 * 3600
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8

#: page or action -> roles allowed.
PERMISSIONS: dict[str, frozenset[str]] = {
    "calls": frozenset({"supervisor", "script_designer", "agent"}),
    # A recording is the debtor's voice, which no mask covers: only those who hear debtors anyway.
    "play": frozenset({"supervisor", "agent"}),
    "correct": frozenset({"supervisor"}),
    "export": frozenset({"supervisor", "script_designer"}),
    "dashboard": frozenset({"supervisor"}),
    "live": frozenset({"supervisor", "agent"}),
    "claim": frozenset({"agent", "supervisor"}),
    "scripts": frozenset({"supervisor", "script_designer"}),
    "audit": frozenset({"supervisor"}),
    # The promise book and a debtor's page: those who follow debtors up, not script designers.
    "promises": frozenset({"supervisor", "agent"}),
}
#: what personal data each role sees in clear (`masking.CATEGORIES`); the rest is masked in
#: every page, JSON answer and export, in the columns and inside transcripts and SMS texts:
#: name (the debtor's), contact (phone numbers, e-mails, card and other long digit runs),
#: amount (what the account owes or the debtor promised), birth_date (a date with a year).
SEES: dict[str, frozenset[str]] = {
    "supervisor": frozenset({NAME, CONTACT, AMOUNT, BIRTH_DATE}),
    "agent": frozenset({NAME, AMOUNT, BIRTH_DATE}),  # they talk to the debtor, they do not dial
    "script_designer": frozenset(),  # they need the wording, not whose it is
}

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str

    def may(self, what: str) -> bool:
        return self.role in PERMISSIONS[what]

    def masker(self, known: Known = Known()) -> Masker:
        """How this user sees a call whose account holds `known` (see voicebot/console/views.py)."""
        return Masker(SEES[self.role], known)


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
        if exists:  # a reset password or role: whoever held the old one is signed out everywhere
            revoke_sessions(db, username)
    store.write_now(write)


def revoke_sessions(db, username: str) -> None:
    """End every open session of `username` (inside the caller's transaction)."""
    db.execute(update(ConsoleSession).where(ConsoleSession.username == username,
                                            ConsoleSession.revoked_at.is_(None))
               .values(revoked_at=datetime.now(UTC)))


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
    """Signed cookies naming a session row: issued at sign-in, checked on every request,
    revoked at sign-out (and for all of a user's sessions when their password is reset)."""

    def __init__(self, secret: str, store: RecordStore):
        self._signer = URLSafeTimedSerializer(secret, salt="voicebot-console")
        self._store = store

    def issue(self, principal: Principal) -> str:
        sid = secrets.token_urlsafe(16)
        row = dict(id=sid, username=principal.username, created_at=datetime.now(UTC))
        self._store.write_now(lambda db: db.add(ConsoleSession(**row)))
        return self._signer.dumps({"u": principal.username, "s": sid})

    def _claims(self, cookie: str | None) -> tuple[str, str] | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("s"), str):
            return None  # an old cookie with no session id: sign in again
        return data["u"], data["s"]

    def read(self, cookie: str | None) -> str | None:
        """The user name of a live session, else None."""
        claims = self._claims(cookie)
        if claims is None:
            return None
        username, sid = claims
        with self._store.session() as db:
            row = db.get(ConsoleSession, sid)
        if row is None or row.revoked_at is not None or row.username != username:
            return None
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return username if datetime.now(UTC) - created < timedelta(seconds=SESSION_MAX_AGE_S) else None

    def revoke(self, cookie: str | None) -> str | None:
        """End the session the cookie names; its user name, or None if it named none."""
        claims = self._claims(cookie)
        if claims is None:
            return None
        username, sid = claims

        def write(db) -> None:
            db.execute(update(ConsoleSession).where(ConsoleSession.id == sid, ConsoleSession.revoked_at.is_(None))
                       .values(revoked_at=datetime.now(UTC)))
        self._store.write_now(write)
        return username


_DUMMY = _hasher.hash("not-a-password-anyone-has")
