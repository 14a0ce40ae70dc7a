"""The media-stream server's part in opt-outs: it hears them, and it refuses calls to them.

A call the server carries may have been placed by a campaign on another machine, which learns
the outcome only from a pub/sub `call.ended` event that can be lost.  So the server journals
the opt-out itself, at the turn the debtor says it (`journal_when_heard`), then copies it to
the campaign store's opt-out set when one is configured (off the event loop, with short
timeouts: a stalled Redis must not stall the calls).  The journal write itself stays on the
loop, synchronous: one fsync per opted-out call, so nothing about the call can overtake it.
At every call start it asks the journal and that set; if the store cannot answer, the
journal's answer stands and the gap is logged.  While it runs it also copies its journal into
the store every `RESYNC_S` seconds (`copy_while_serving`): a store that keeps nothing on disk
and restarted has lost the opt-outs, and the processes that do not share this journal (a
campaign worker or server on another machine) ask only the store; an idle server must not
wait for its next call start to tell them again.
"""

from __future__ import annotations

import asyncio

import redis
from loguru import logger

from dialogue.session import CallSession
from telephony.campaign.opt_out_journal import OptOutJournal
from telephony.campaign.opt_outs import OptOuts, journal_when_heard
from telephony.campaign.redis_store import RedisStore
from voicebot.server.settings import ServerSettings

STORE_TIMEOUT_S = 1.0  # per Redis command; the check runs on a thread, but a call start waits for it
RESYNC_S = 5.0         # between two copies of the journal into the store while the server runs


def server_opt_outs(settings: ServerSettings) -> OptOuts:
    """The journal (always), and the campaigns' Redis opt-out set when `opt_out_redis_url` is set."""
    store = None
    if settings.opt_out_redis_url:
        client = redis.Redis.from_url(settings.opt_out_redis_url, decode_responses=True,
                                      socket_connect_timeout=STORE_TIMEOUT_S, socket_timeout=STORE_TIMEOUT_S)
        store = RedisStore(client, settings.opt_out_prefix)
    return OptOuts(store, OptOutJournal(settings.opt_out_journal_path()))


def _ask(opt_outs: OptOuts, account_id: str) -> bool:
    try:
        opt_outs.replay()  # what this server journaled while the store was away
        return opt_outs.is_opted_out(account_id)
    except Exception as exc:  # noqa: BLE001 - the store is optional here: the journal answers
        logger.warning(f"opt-out check for {account_id}: the campaign store did not answer "
                       f"({type(exc).__name__}: {exc}); the opt-out journal alone decides")
        return opt_outs.journaled(account_id)


async def opted_out_at_start(opt_outs: OptOuts, account_id: str) -> bool:
    """Has this account opted out, in the journal or the store?  Off the event loop."""
    if opt_outs.store is None:
        return opt_outs.journaled(account_id)  # a stat and a dict lookup: no thread needed
    return await asyncio.to_thread(_ask, opt_outs, account_id)


def _copy_to_store(opt_outs: OptOuts) -> None:
    try:
        opt_outs.replay()
    except Exception as exc:  # noqa: BLE001 - journaled already; the next call start retries
        logger.error(f"an opt-out heard on a call is journaled but the campaign store refused it "
                     f"({type(exc).__name__}: {exc}); it is copied at a later call start")


def watch_call(opt_outs: OptOuts, session: CallSession, carrier_call_id: str | None) -> None:
    """Journal the call's opt-out the moment it is heard, then tell the store off the loop."""
    loop = asyncio.get_running_loop()

    def to_store() -> None:
        if opt_outs.store is not None:
            loop.run_in_executor(None, _copy_to_store, opt_outs)

    # Asked when heard: a callback's account is known only after the knowledge check.
    heard = journal_when_heard(opt_outs, session.accounts_in_question, "media_stream", after=to_store,
                               call_id=session.call_id, carrier_call_id=carrier_call_id)
    session.listeners.append(heard)


async def copy_while_serving(opt_outs: OptOuts, every_s: float = RESYNC_S) -> None:
    """Copy what the store lacks from the journal every `every_s` s, until cancelled (one read
    of the store when nothing is missing).  An outage is logged once, and its end."""
    away = False
    while True:
        try:
            await asyncio.to_thread(opt_outs.replay)
            if away:
                logger.warning("opt-out journal: the campaign store answers again; it holds the journal's opt-outs")
            away = False
        except Exception as exc:  # noqa: BLE001 - the journal keeps them; the next round tries again
            if not away:
                logger.error(f"opt-out journal: the campaign store did not take the journal's opt-outs "
                             f"({type(exc).__name__}: {exc}); trying again every {every_s:g} s")
            away = True
        await asyncio.sleep(every_s)
