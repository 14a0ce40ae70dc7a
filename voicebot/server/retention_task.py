"""The server keeps its own retention: calls past `retention_days` are purged while it runs.

A retention period nobody enforces is only a number: a purge left to a cron job that was never
set up keeps debtors' words and voices for ever.  So `voicebot serve` runs the same purge as
`voicebot records purge` every `retention_purge_every_h` hours (the first a minute after
start-up, off the busy start), on its own records store, records folder and live bus (on the in-process bus, the
only process that can reach its handoff packets is the server itself), and on the campaigns'
Redis when it is given one (`opt_out_redis_url`): their SMS store and outbox age out too.
The purge touches only calls that ended long ago and decided packets, never a call in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from loguru import logger

from voicebot.records.retention import CampaignData, RemovalReport, cutoff_for, purge_records
from voicebot.server.settings import ServerSettings

FIRST_PURGE_AFTER_S = 60.0
PURGED_BY = "server:retention"


def _campaign_data(settings: ServerSettings) -> CampaignData | None:
    """The campaigns' Redis stores when the server is given one (`opt_out_redis_url`): their
    SMS entries hold numbers and message texts, and age out with the calls. Opened per purge
    (once a day), so a Redis that is away at start-up is no reason to skip them for ever."""
    if not settings.opt_out_redis_url:
        return None
    from telephony.backend import open_backend

    backend = open_backend(settings.opt_out_redis_url, settings.opt_out_prefix, None, None)
    return CampaignData.of(backend, backend.where)


async def purge_once(app: FastAPI, settings: ServerSettings) -> RemovalReport | None:
    """One purge with the app's store, folder and bus (and the campaigns' Redis when the
    server has one); logged, and None if it failed."""
    from telephony.campaign.store import StoreUnavailable

    try:
        try:
            campaign = await asyncio.to_thread(_campaign_data, settings)
        except StoreUnavailable as exc:  # the calls are purged all the same; SMS next time
            logger.warning(f"retention purge: campaign stores not reached: {exc}")
            campaign = None
        report = await purge_records(app.state.records, settings.records_dir, app.state.bus,
                                     cutoff=cutoff_for(settings.retention_days), by=PURGED_BY,
                                     campaign_data=campaign)
    except Exception as exc:  # a purge that fails is tried again next time; calls go on
        logger.error(f"retention purge ({settings.retention_days} days) failed: {type(exc).__name__}: {exc}")
        return None
    counts = report.counts()
    logger.info(f"retention purge ({settings.retention_days} days): {counts['calls']} call(s), "
                f"{counts['turns']} turn(s), {len(report.files.removed)} file(s), "
                f"{counts['packets']} handoff packet(s) removed")
    for path, reason in report.files.refused:
        logger.warning(f"retention purge: left {path} in place: {reason}")
    if report.packets_error:
        logger.warning(f"retention purge: handoff packets not checked: {report.packets_error}")
    if report.sms is not None:
        logger.info(f"retention purge: SMS entries {counts['sms']}, outbox messages {report.sms_outbox} removed")
    if report.campaign_error:
        logger.warning(f"retention purge: campaign stores not swept: {report.campaign_error}")
    return report


async def _purge_every(app: FastAPI, settings: ServerSettings, every_s: float, first_after_s: float) -> None:
    await asyncio.sleep(first_after_s)
    while True:
        await purge_once(app, settings)
        await asyncio.sleep(every_s)


def purge_while_serving(app: FastAPI, settings: ServerSettings, *,
                        first_after_s: float = FIRST_PURGE_AFTER_S) -> None:
    """Run the purge periodically for as long as `app` is served (wraps its lifespan; nothing
    to do when `retention_purge_every_h` is 0)."""
    if not settings.retention_purge_every_h:
        return
    inner = app.router.lifespan_context
    every_s = settings.retention_purge_every_h * 3600

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[Any]:
        async with inner(served) as state:
            task = asyncio.create_task(_purge_every(served, settings, every_s, first_after_s),
                                       name="retention-purge")
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
