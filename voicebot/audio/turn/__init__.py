"""End-of-turn models: whether what the debtor said so far sounds finished (Smart Turn v3)."""

from voicebot.audio.turn.smart_turn import SmartTurnModel, TurnVerdict, shared_smart_turn

__all__ = ["SmartTurnModel", "TurnVerdict", "shared_smart_turn"]
