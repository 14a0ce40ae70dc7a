"""The accounts a server may call about, re-read when the file changes.

A campaign appends accounts while the server runs; reloading on a changed mtime picks them up
without a restart, and a file that has become unreadable keeps the last good copy (a call in
progress must not fail because someone is halfway through saving the file).
"""

from __future__ import annotations

import threading
from pathlib import Path

from loguru import logger

from dialogue.accounts import Account, AccountError, load_accounts


class AccountBook:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._accounts: dict[str, Account] = {}
        self._by_phone: dict[str, list[Account]] = {}  # a callback's lookup, built with each load
        self._reload(strict=True)  # a bad file at start-up is a configuration error: fail loudly

    def _reload(self, strict: bool = False) -> None:
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self._mtime:
                return
            accounts = {a.id: a for a in load_accounts(self.path)}
        except (OSError, AccountError) as exc:
            if strict:
                raise AccountError(str(exc)) from None
            logger.warning(f"keeping the accounts loaded before: {exc}")
            return
        by_phone: dict[str, list[Account]] = {}
        for account in accounts.values():
            by_phone.setdefault(account.phone, []).append(account)
        for found in by_phone.values():
            found.sort(key=lambda a: (-a.days_overdue, a.id))
        with self._lock:
            self._accounts, self._by_phone, self._mtime = accounts, by_phone, mtime

    def get(self, account_id: str) -> Account | None:
        self._reload()
        with self._lock:
            return self._accounts.get(account_id)

    def by_phone(self, e164: str) -> list[Account]:
        """The accounts whose number is `e164` (a debtor calling back), the most overdue first:
        a shared number (a household, a business line) may hold several."""
        self._reload()
        with self._lock:
            return list(self._by_phone.get(e164, ()))

    def locales(self) -> set[str]:
        with self._lock:
            return {a.locale for a in self._accounts.values()}

    def first_of(self, locale: str) -> Account | None:
        with self._lock:
            return next((a for a in self._accounts.values() if a.locale == locale), None)
