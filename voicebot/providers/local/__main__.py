"""Place one call on a running media-stream server, playing the carrier and a scripted debtor.

    voicebot serve --accounts scripts/accounts/sample_accounts.json --token demo &
    python -m voicebot.providers.local --token demo --account EN-LATE-1 \\
        --debtor "yes this is David|let me talk to a real person"

The server writes the call record and recording; this prints what the carrier saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m voicebot.providers.local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="ws://127.0.0.1:8080", help="the server's ws:// base URL")
    parser.add_argument("--account", required=True, help="account id the server holds")
    parser.add_argument("--debtor", required=True, help='"line|line|..." (<silence>, <hangup>, #0, ">1.5 line")')
    parser.add_argument("--token", help="stream token (sent as ?token=)")
    parser.add_argument("--twilio-auth-token", help="sign the handshake as Twilio does instead")
    parser.add_argument("--protocol", choices=["twilio", "pcm"], default="twilio")
    parser.add_argument("--sample-rate", type=int, choices=[8000, 16000], default=8000, help="PCM only")
    parser.add_argument("--stage"), parser.add_argument("--locale")
    parser.add_argument("--attempt", type=int, default=1)
    parser.add_argument("--debtor-voice", help="catalogue voice for the debtor")
    parser.add_argument("--amd", action="store_true", help="ask the server to detect answering machines "
                                                          '(try --debtor "<machine>")')
    parser.add_argument("--answered-by", help="send a carrier verdict (Twilio AnsweredBy), e.g. machine_end_beep")
    args = parser.parse_args()
    from loguru import logger

    from voicebot import config

    logger.remove()  # warnings only, unless LOGURU_LEVEL: pipecat logs every processor's start
    logger.add(sys.stderr, level=config.current().loguru_level or "WARNING")
    from voicebot.providers.local import LocalProvider  # heavy: models

    provider = LocalProvider(args.server, token=args.token, twilio_auth_token=args.twilio_auth_token,
                             protocol=args.protocol, sample_rate=args.sample_rate,
                             debtor_voice=args.debtor_voice)

    async def run():
        placed = await provider.place_call("+15550100", args.account, stage=args.stage, attempt=args.attempt,
                                           locale=args.locale, debtor=args.debtor, amd=args.amd,
                                           answered_by=args.answered_by)
        return await provider.wait(placed.call_id)

    result = asyncio.run(run())
    print(json.dumps({"call_id": result.call_id, "status": result.status, "ended_by": result.ended_by,
                      "close": [result.close_code, result.close_reason], "error": result.error,
                      "bot_audio_s": round(result.bot_audio_s, 2), "marks": result.marks,
                      "clears": result.clears, "turn_latency_ms": [round(v) for v in result.latencies_ms]},
                     indent=2))


if __name__ == "__main__":
    main()
