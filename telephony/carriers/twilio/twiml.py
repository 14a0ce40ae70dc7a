"""The two TwiML documents the Twilio provider sends: stream a call to us, or dial an agent.

Built with ElementTree, never by string formatting, so an account id or number holding `&`,
`<` or quotes cannot break (or inject into) the document Twilio executes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _document(response: ET.Element) -> str:
    return DECLARATION + ET.tostring(response, encoding="unicode")


def connect_stream(stream_url: str, parameters: Mapping[str, str]) -> str:
    """`<Connect><Stream>`: a bidirectional media stream to the server; the parameters arrive
    as the start event's customParameters (Twilio does not pass a query string through)."""
    response = ET.Element("Response")
    stream = ET.SubElement(ET.SubElement(response, "Connect"), "Stream", url=stream_url)
    for name, value in parameters.items():
        ET.SubElement(stream, "Parameter", name=name, value=value)
    return _document(response)


def dial(number: str, *, caller_id: str | None = None, timeout_s: int | None = None) -> str:
    """`<Dial>`: replaces what the call is doing (the stream ends) with a call to `number`."""
    response = ET.Element("Response")
    attrs = {k: v for k, v in {"callerId": caller_id,
                                "timeout": str(timeout_s) if timeout_s else None}.items() if v}
    ET.SubElement(response, "Dial", attrs).text = number
    return _document(response)
