"""The rates and resampler a strict carrier serializer reads the carrier's audio with.

pipecat's carrier serializers keep these to themselves (`_twilio_sample_rate`, `_sample_rate`,
`_input_resampler`...), and ours replace their `deserialize`; so they keep their own, made from
pipecat's public parameters the same way pipecat makes its copies, and learn the pipeline's rate
at `setup` as pipecat does (`InputParams.sample_rate`, else the pipeline's input rate).
"""

from __future__ import annotations

from typing import Any

from pipecat.audio.utils import create_stream_resampler
from pipecat.processors.frame_processor import FrameProcessorSetup


class CarrierInput:
    """Mixed in before the pipecat serializer: `class StrictX(CarrierInput, XFrameSerializer)`."""

    carrier_rate = 0   # the carrier's audio, Hz
    pipeline_rate = 0  # the pipeline's input, Hz: known at setup

    def read_input_with(self, params: Any, carrier_rate: int) -> None:
        """From the serializer's `InputParams`, and the carrier rate they name."""
        self.carrier_rate = carrier_rate
        self._rate_override: int | None = params.sample_rate
        self.input_resampler = create_stream_resampler(clear_after_secs=params.resampler_clear_after_secs)

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)  # type: ignore[misc]
        self.pipeline_rate = self._rate_override or setup.audio_in_sample_rate
