"""A simulated phone carrier with a scripted debtor, for demos, tests and benchmarks."""

from voicebot.transports.simulated.debtor import DebtorLine, ScriptedDebtor, last_voiced_s
from voicebot.transports.simulated.transport import SimulatedCarrierTransport

__all__ = ["DebtorLine", "ScriptedDebtor", "SimulatedCarrierTransport", "last_voiced_s"]
