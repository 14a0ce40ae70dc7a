"""The two Plivo XML documents the server answers with: stream a call to us, or dial an agent.

Plivo, unlike Twilio, takes no inline document: a call placed (`answer_url`) or transferred
(`aleg_url`) fetches its XML from a URL, so the server serves both (`plivo/answer.py`).  Built
with ElementTree, never by string formatting, so no account id or number can inject into them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
CONTENT_TYPE = "audio/x-mulaw;rate=8000"  # what plivo/carrier.py accepts


def _document(response: ET.Element) -> str:
    return DECLARATION + ET.tostring(response, encoding="unicode")


def stream(url: str) -> str:
    """`<Stream bidirectional keepCallAlive>`: the call's audio to `url` (its query names the call)."""
    response = ET.Element("Response")
    ET.SubElement(response, "Stream", bidirectional="true", keepCallAlive="true",
                  contentType=CONTENT_TYPE).text = url
    return _document(response)


def dial(number: str, *, caller_id: str | None = None) -> str:
    """`<Dial><Number>`: the A leg leaves the stream for `number`."""
    response = ET.Element("Response")
    dial_element = ET.SubElement(response, "Dial", {"callerId": caller_id} if caller_id else {})
    ET.SubElement(dial_element, "Number").text = number
    return _document(response)
