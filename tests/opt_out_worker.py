"""A campaign worker process whose one call ends in an opt-out when the test says so.

    python tests/opt_out_worker.py REDIS_URL PREFIX CAMPAIGN JOURNAL ACCOUNTS.json AT

The worker is the real CampaignWorker on a RedisStore with an opt-out journal; only the call is
stood in for: the dialer prints `dialling ACCOUNT` and waits for a line on stdin before it
answers "opted_out", so the test can kill Redis while the call is on the line, then let it end,
then SIGKILL this process at a moment of its choosing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from dialogue.accounts import Account
from telephony.campaign import CampaignConfig, CampaignWorker, ManualClock, RedisStore, connect
from telephony.campaign.dialer import CallAnswer, CallRequest, prepared_answer
from telephony.campaign.opt_out_journal import OptOutJournal
from telephony.campaign.opt_outs import OptOuts


class HeldDialer:
    """The call stays on the line until the test writes a line to stdin."""

    async def place(self, request: CallRequest) -> CallAnswer:
        print(f"dialling {request.account.id}", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        return prepared_answer("answered:opted_out", request)


def main() -> None:
    url, prefix, campaign, journal, accounts, at = sys.argv[1:7]
    rows = [Account.model_validate(r) for r in json.loads(Path(accounts).read_text())]
    store = RedisStore(connect(url), prefix)
    worker = CampaignWorker(store, HeldDialer(), campaign, clock=ManualClock(datetime.fromisoformat(at)),
                            worker_id="doomed", config=CampaignConfig(poll_s=0.05, lease_ttl_s=1.0),
                            opt_outs=OptOuts(store, OptOutJournal(Path(journal))))
    asyncio.run(worker.run(rows, follow=True))


if __name__ == "__main__":
    main()
