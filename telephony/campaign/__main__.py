"""`python -m telephony.campaign run ...`: the same commands as `voicebot campaign`."""

from voicebot.cli.campaign_cmd import campaign_app

if __name__ == "__main__":
    campaign_app(prog_name="python -m telephony.campaign")
