"""What one media-stream server needs to know, validated once at start-up.

A plain pydantic model (the project does not ship pydantic-settings); `from_env` reads the
same fields from `VOICEBOT_*` variables so a container can be configured without flags.
Secrets are `SecretStr` so they never appear in logs or reprs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from telephony.campaign.opt_out_journal import journal_path
from telephony.carriers.auth import Access
from telephony.carriers.base import Limits
from voicebot.config import ENV_PREFIX, SettingsError, validate_naming_variables


class ServerSettings(BaseModel):
    accounts_file: Path = Field(description="JSON or CSV accounts the server may call about")
    records_dir: Path = Field(Path("var/calls"), description="call records (JSON, JSONL) and WAVs")
    tokens: list[SecretStr] = Field(default_factory=list,
                                    description="accepted as ?token= or Authorization: Bearer")
    twilio_auth_token: SecretStr | None = Field(
        None, description="checks X-Twilio-Signature on /media/twilio (Twilio cannot send a token)")
    carrier_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="each carrier's signing secret, by carrier name: plivo (auth "
                                          "token: X-Plivo-Signature-V3), vonage (signature secret: its "
                                          "JWT); Twilio's is twilio_auth_token")
    audiosocket_port: int | None = Field(None, ge=1, le=65535, description="also listen for Asterisk "
                                                                         "AudioSocket (TCP) on this port")
    audiosocket_host: str = Field("127.0.0.1", description="the AudioSocket listener's interface")
    public_url: str | None = Field(
        None, description="scheme and host Twilio connects to (wss://bot.example.com) when a proxy "
                          "in front changes them; the signature is computed over this URL")
    max_frame_bytes: int = Field(64 * 1024, ge=1024, description="larger messages close the stream")
    sample_rate: int = Field(8000, description="the pipeline's rate; carriers' audio is converted")
    start_timeout_s: float = Field(3.0, gt=0, description="time allowed for the start message; a "
                                                       "carrier sends it at once, an idle socket is closed")
    max_opening_streams: int = Field(128, ge=1, description="sockets accepted but not yet started "
                                                            "(authenticated, start read) at once; more: 1013")
    max_opening_streams_per_address: int = Field(16, ge=1, description="the same, from one remote "
                                                                       "address; more: 4429")
    max_calls: int | None = Field(100, ge=0, description="calls at once; a start beyond it is refused "
                                                         "(1013); 0 or None: no cap")
    media_timeout_s: float | None = Field(10.0, ge=0, description="no media for this long after the "
                                                                  "start or between frames: the line "
                                                                  "dropped, the call ends; 0 or None: never")
    max_call_s: int | None = Field(1800, description="a call is cut off after this long")
    ready_min_free_mb: int = Field(200, ge=0, description="/ready fails when the records folder's disk "
                                                          "has less free space than this (MB)")
    end_silence_s: int = Field(1, ge=0, description="silence sent after the last words, before closing")
    end_mark_timeout_s: float = Field(2.0, ge=0, description="wait for Twilio to confirm the last "
                                                               "audio played before closing")
    playback_lead_s: float = Field(
        0.4, ge=0, le=2.0, description="bot audio sent ahead of the carrier's playback: absorbs "
                                       "stalls of a loaded server; a barge-in clears it")
    input_frame_ms: int = Field(40, ge=10, le=200, description="carrier audio per pipeline input frame: "
                                                              "two 20 ms messages (20: one each)")
    output_frame_ms: int = Field(100, ge=10, le=500, description="bot audio per message to a carrier "
                                                                "without fixed packets (docs/performance.md)")
    call_date: date | None = Field(None, description="fixed call date (tests, demos); default today")
    transfer_numbers: dict[str, str] = Field(
        default_factory=dict, description="agent queue -> number to dial; default the account's agent line")
    warm_up: bool = Field(True, description="load and exercise the models before accepting calls")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the call records store the console reads "
                    "(postgresql://...); default a SQLite file records.db in records_dir")
    console_secret: SecretStr | None = Field(
        None,
        description="signs console sign-in cookies; default a random one per process")
    opt_out_journal: Path | None = Field(
        None, description="opt-out journal (fsync'd JSONL) checked at every call start and written "
                          "when a debtor opts out; default opt-outs.jsonl in records_dir, which "
                          "`voicebot campaign run` also uses by default")
    opt_out_redis_url: str | None = Field(
        None, description="Redis of the campaign store (the campaigns' --redis): its opt-out set is "
                          "checked at call start too, and opt-outs heard here are added to it")
    opt_out_prefix: str = Field("voicebot", description="the campaign store's Redis key prefix")
    sign_in_max_failures: int = Field(5, ge=1, description="console sign-in failures from one address, "
                                                           "or against one user name, before a lockout")
    sign_in_window_s: float = Field(300.0, gt=0, description="the failures counted are this recent")
    sign_in_lockout_s: float = Field(60.0, gt=0, description="first lockout (429, Retry-After); each "
                                                             "further one doubles it")
    sign_in_lockout_max_s: float = Field(3600.0, gt=0, description="the longest lockout")
    sign_in_verify_workers: int = Field(2, ge=1, description="password checks (argon2, 64 MiB each) at "
                                                             "once, in the process's own small pool")
    sign_in_verify_queue: int = Field(8, ge=0, description="sign-ins waiting for that pool; more are "
                                                           "refused at once (503)")
    retention_days: int = Field(
        365, ge=1,
        description="calls are kept this many days after they end, then purged: database rows, "
                    "JSONL/JSON/WAV files, decided handoff packets (VOICEBOT_RETENTION_DAYS, default 365)")
    retention_purge_every_h: float = Field(
        24.0, ge=0, description="the server purges calls past `retention_days` this often (the first "
                                "a minute after start-up); 0: never, when `voicebot records purge` "
                                "runs from a scheduler instead")
    metrics_token: SecretStr | None = Field(
        None, description="/metrics answers only `Authorization: Bearer` with this token; unset: "
                          "/metrics is off (docs/operations.md)")
    payments_token: SecretStr | None = Field(
        None, description="POST /payments (the lender's payments feed into the promise book) answers "
                          "only `Authorization: Bearer` with this token; unset: the feed is off")
    drain_timeout_s: float = Field(
        300.0, ge=0, description="on SIGTERM, new streams are refused (1001) and live calls have this "
                                 "long to end before the rest are cut (1012); 0: cut at once")
    handoff_timeout_s: float = Field(
        20.0, ge=0, description="how long a transferred call holds for an agent to claim it on the "
                                "live bus before the bot takes a callback time; 0 = transfer to the "
                                "queue's line without asking the desks")
    contact_history: bool | None = Field(
        None, description="judge every call start with the debtor's whole contact history in the "
                          "records store (all sources: the attempt caps) and record this server's "
                          "attempts.  Default: on, except on a server pinned to a `call_date` (tests, "
                          "demos), whose made-up instants must not enter a debtor's history.  Off only "
                          "where the accounts are no real debtors (load tests): then window, holidays "
                          "and opt-outs alone are checked")
    contact_history_timeout_s: float = Field(
        2.0, gt=0, description="longest a call start waits for the contact history; past it, or "
                               "with the database away, the start is refused (1013, fail closed)")
    verification_lockout_calls: int = Field(
        3, ge=0, description="callbacks from one number whose caller failed the knowledge check "
                             "(and never passed it) within verification_lockout_hours: the next "
                             "callback compares no answer and closes as a failed check (someone may "
                             "be guessing a date of birth a call at a time); 0: no lockout")
    verification_lockout_hours: float = Field(
        24.0, gt=0, description="the window verification_lockout_calls counts in")

    @field_validator("sample_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value not in (8000, 16000):
            raise ValueError("sample_rate must be 8000 or 16000")
        return value

    @model_validator(mode="after")
    def _some_auth(self) -> ServerSettings:
        if not self.tokens and self.twilio_auth_token is None and not self.carrier_secrets:
            raise ValueError("configure at least one token or a carrier's secret: "
                             "the server refuses to take calls from anyone")
        return self

    def opt_out_journal_path(self) -> Path:
        return journal_path(self.records_dir, self.opt_out_journal)

    def uses_contact_history(self) -> bool:
        return self.contact_history if self.contact_history is not None else self.call_date is None

    def records_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.records_dir / 'records.db').resolve()}"

    def token_values(self) -> list[str]:
        return [t.get_secret_value() for t in self.tokens if t.get_secret_value()]

    def access(self) -> Access:
        """The credentials the carriers check streams against."""
        secrets = {name: s.get_secret_value() for name, s in self.carrier_secrets.items()}
        if self.twilio_auth_token is not None:
            secrets["twilio"] = self.twilio_auth_token.get_secret_value()
        return Access(tuple(self.token_values()), secrets, self.public_url)

    def limits(self) -> Limits:
        return Limits(self.max_frame_bytes, self.start_timeout_s, self.input_frame_ms)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> ServerSettings:
        """Fields from VOICEBOT_ACCOUNTS_FILE, VOICEBOT_TOKENS (comma-separated), VOICEBOT_
        TRANSFER_NUMBERS (JSON)... of `environ` (default the process's), then the non-None
        overrides (command-line flags win).

        Raises:
            voicebot.config.SettingsError: a value is refused; the message names its variable."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            if name == "tokens":
                values[name] = [t for t in raw.split(",") if t]
            elif name in ("transfer_numbers", "carrier_secrets"):
                values[name] = _json_setting(name, raw)  # {"collections": "+12065550100"}
            else:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return validate_naming_variables(cls, values)


def _json_setting(name: str, raw: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: not JSON ({exc})") from None
