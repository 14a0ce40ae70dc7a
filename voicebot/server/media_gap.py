"""A line that goes quiet at the socket is a dropped line: end the call, keep its record.

Carriers stream audio all through a call, 20 ms at a time, silence included; a stream that
sent its start and then nothing (a carrier that lost the call without closing the socket, or a
peer holding a pipeline on purpose) would otherwise keep a pipeline, a recogniser and a slot
under the call cap until `max_call_s` (30 minutes), because the dialogue's silence clock only
runs when audio arrives.  The clock here runs on the socket's own media: from the moment the
pipeline can read it, and again after every audio frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def end_when_media_stops(last_audio_at: Callable[[], float | None], timeout_s: float,
                               on_drop: Callable[[], Awaitable[None]], *,
                               clock: Callable[[], float] = time.monotonic) -> None:
    """Wait until no audio frame has arrived for `timeout_s`, then await `on_drop()` once.

    `last_audio_at()` is the monotonic time of the last audio frame read (None: none yet); the
    clock starts when this is called, so the time a pipeline took to start is not counted."""
    since = clock()
    while True:
        last = last_audio_at()
        quiet_until = max(since, last if last is not None else since) + timeout_s
        wait = quiet_until - clock()
        if wait <= 0:
            await on_drop()
            return
        await asyncio.sleep(wait)
