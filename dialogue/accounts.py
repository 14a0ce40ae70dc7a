"""Accounts to call: the typed record, and loading from the JSON or CSV a lender exports.

`FILE:ID` picks one account from a file; a bad file or an unknown id fails here, with the
file and the ids it does hold, before any call starts.

Phone numbers are normalised to E.164 when accounts are loaded ("(520) 555-0100" becomes
"+15205550100"), so every later step (dialling, the region and time-zone fallback, opt-out
and per-number caps) sees one form. A number written without its +country code is read in
the account's jurisdiction's home region (`us` -> US, `cn` -> CN), else its locale's
(`en` -> US, `zh` -> CN), see `dialogue.phones.home_region`; a number that cannot be read
that way fails the load, naming the account.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dialogue.phones import PhoneError, home_region, to_e164


class AccountError(ValueError):
    """An account file or id is unusable; the message names the file and the problem."""


class Account(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    first_name: str | None = None
    phone: str | None = None
    locale: str = "en"
    timezone: str | None = None
    jurisdiction: str | None = None
    subdivision: str | None = Field(
        None, description="state or province code (ISO 3166-2 without the country, e.g. CA): its own "
                          "holidays count where the jurisdiction's profile says so")
    lender: str
    amount: float = Field(gt=0)
    minimum_payment: float = Field(gt=0)
    currency: str | None = None
    due_date: date
    days_overdue: int = Field(ge=0)
    payment_methods: list[str] = Field(min_length=1)
    agent_line: str
    late_fee: float | None = None
    interest_rate: float | None = None
    # What only the debtor knows, asked when they call in (never said by the bot).
    date_of_birth: date | None = None
    postal_code: str | None = None

    @field_validator("payment_methods", mode="before")
    @classmethod
    def _split_methods(cls, value: object) -> object:
        # CSV cells hold "app; online banking; bank transfer".
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @property
    def given_name(self) -> str:
        return self.first_name or self.name.split()[0]


def _rows(path: Path) -> list[dict]:
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                return [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccountError(f"{path}: account file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise AccountError(f"{path}: cannot read accounts: {exc}") from None
    if isinstance(data, dict) and "accounts" in data:
        data = data["accounts"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise AccountError(f"{path}: expected a list of accounts or {{\"accounts\": [...]}}")
    return data


def with_e164_phone(account: Account) -> Account:
    """The account with its phone in E.164, a national number read in the account's home
    region (`dialogue.phones.home_region`: its jurisdiction's, else its locale's).

    Done where accounts are read from a lender's file, not in the model: records already in a
    store or an SMS queue are read back as they were saved."""
    if not account.phone:
        return account
    e164 = to_e164(account.phone, home_region(account.jurisdiction, account.locale))
    return account if e164 == account.phone else account.model_copy(update={"phone": e164})


def load_accounts(path: Path) -> list[Account]:
    accounts = []
    for index, row in enumerate(_rows(path)):
        ident = row.get("id", f"#{index + 1}") if isinstance(row, dict) else f"#{index + 1}"
        try:
            accounts.append(with_e164_phone(Account.model_validate(row)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AccountError(f"{path}: account {ident}: {where}: {first['msg']}") from None
        except PhoneError as exc:
            raise AccountError(f"{path}: account {ident}: {exc}") from None
    return accounts


def load_account(spec: str) -> Account:
    """`FILE` (a file holding exactly one account) or `FILE:ID`."""
    file, _, wanted = spec.partition(":") if not Path(spec).is_file() else (spec, "", "")
    accounts = load_accounts(Path(file))
    if not wanted:
        if len(accounts) != 1:
            raise AccountError(f"{file} holds {len(accounts)} accounts; pick one with {file}:ID "
                               f"(ids: {', '.join(a.id for a in accounts[:10])})")
        return accounts[0]
    for account in accounts:
        if account.id == wanted:
            return account
    raise AccountError(f"unknown account {wanted!r} in {file} "
                       f"(ids: {', '.join(a.id for a in accounts[:10])})")
