"""What each console role sees of a debtor (issue 19, medium item 4), over the real server
(uvicorn on a loopback port, `create_app` with its records store and in-process bus).

One stored call whose transcript says the debtor's name, phone number, balance, promised
amount, e-mail, card number and date of birth; it is still going, so the live board follows
it, it has a recording in the records folder, one of its turns was corrected (so it is in
`corrections.yml`), and a handoff packet of it waits in the agent queue.  Each role then
fetches every page, JSON answer and export it may reach, and the test says what is and is not
in clear in each:

- supervisor: everything in clear;
- agent: the name and the amounts in clear (they talk to the debtor), contact details (phone
  numbers, e-mail, card numbers) masked, in the calls list, the call page, the live JSON and
  the handoff packet;
- script designer: no name, contact detail, amount tied to the debtor or date of birth in
  clear anywhere (calls list, CSV, call page with its SMS titles, corrections export), the
  wording of what the debtor said kept, and no recording.

Then the masking rules on Chinese text, and the guard that makes a template handed a raw
stored row fail rather than show it.
"""

from __future__ import annotations

import asyncio
import time
import wave
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from console_seed import console_app
from dialogue.nlu.rasa_format import load_nlu_text
from media_server import free_port, serving
from telephony.handoff import HandoffPacket, HandoffQueue
from telephony.handoff.packet import TranscriptLine, mask_phone
from voicebot.console.auth import Principal
from voicebot.console.deps import _templates
from voicebot.console.views import RawRecordInTemplate, known, refuse_raw_records
from voicebot.records.models import Call, Turn

PASSWORD = "masking-pass-1"
CALL = "mask-1"
NAME, PHONE = "Maria Lopez", "+13125550102"
PROMISE = "I can pay 200 on Friday, call me back on 312 555 0102 or write to maria.lopez@example.com"
CARD = "my card is 4111 1111 1111 1111 and I was born on 03/14/1985"
SMS = "Maria Lopez, your balance of $860.50 is overdue: pay at cascade.example/pay"
#: (index, kind, debtor text, intent, bot text)
TURNS = [
    (0, "opening", None, None, "Hello, this is Ava from Cascade Bank. May I speak with Maria Lopez?"),
    (1, "speech", "yes this is Maria Lopez", "confirm_identity",
     "Thank you, Maria. Your balance of $860.50 was due on Saturday, November 21."),
    (2, "speech", PROMISE, "callback_later", "Thanks Maria, I have noted 200 dollars on Friday. I am texting you a link."),
    (3, "speech", CARD, "out_of_scope", "Please never tell me card numbers. Goodbye, Maria."),
]

#: what must never be in clear for a role that does not see it (lower case).
NAME_TEXT = ["maria", "lopez"]
CONTACT_TEXT = ["3125550102", "312 555 0102", "maria.lopez@", "example.com", "4111 1111 1111"]
AMOUNT_TEXT = ["860.50", "pay 200", "200 dollars", "promised_amount: 200"]
BIRTH_TEXT = ["03/14/1985"]


def seed(store, records) -> None:
    wav = records / f"{CALL}.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(2), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(np.zeros(8000, np.int16).tobytes())
    amount_at, friday_at = PROMISE.index("200"), PROMISE.index("Friday")

    def write(db) -> None:
        db.add(Call(id=CALL, account_id="EN-MID-1", debtor_name=NAME, phone=PHONE, locale="en", stage="mid",
                    attempt=1, voice="en-joe", started_at=datetime.now(UTC), recording=str(wav), tags=["promise_to_pay"],
                    tag_text=",promise_to_pay,", confidence_threshold=0.5,
                    details={"promise_date": "2026-11-27", "promised_amount": 200.0},
                    sms=[{"kind": "sms", "template": "payment_link", "text": SMS, "turn": 2}]))
        for index, kind, said, intent, bot in TURNS:
            db.add(Turn(call_id=CALL, index=index, kind=kind, at_ms=3000 * index, audio_ms=3000 * index,
                        debtor_text=said, intent=intent, confidence=None if intent is None else 0.8, bot_text=bot,
                        actions=[{"kind": "sms", "template": "payment_link", "text": SMS}] if index == 2 else [],
                        entities=[{"entity": "amount", "start": amount_at, "end": amount_at + 3, "value": 200},
                                  {"entity": "date", "start": friday_at, "end": friday_at + 6, "value": "Friday"}]
                        if index == 2 else [],
                        corrected_intent="promise_to_pay" if index == 2 else None,
                        corrected_by="sam" if index == 2 else None,
                        corrected_at=datetime.now(UTC) if index == 2 else None))
    store.write_now(write)


def packet() -> HandoffPacket:
    lines = [TranscriptLine(turn=i, at_ms=3000 * i, speaker=speaker, kind="speech" if speaker == "debtor" else "reply",
                            text=text, intent=intent if speaker == "debtor" else None)
             for i, _, said, intent, bot in TURNS
             for speaker, text in (("debtor", said), ("bot", bot)) if text]
    return HandoffPacket(call_id=CALL, queue="collections", reason="request_human", created_at=datetime.now(UTC),
                         account_id="EN-MID-1", debtor_name=NAME, phone_masked=mask_phone(PHONE), locale="en",
                         stage="mid", attempt=1, identity_confirmed=True, third_party=False, transcript=lines,
                         intents=["confirm_identity"], tags=[], score=50, outcome="escalated",
                         captured={"promise_date": "2026-11-27", "promised_amount": 200.0})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    records = tmp_path_factory.mktemp("records")
    port = free_port()
    app, bus = console_app(records, PASSWORD)
    seed(app.state.records, records)
    asyncio.run(HandoffQueue(bus, "collections").submit(packet()))
    with serving(app, port):
        yield f"http://127.0.0.1:{port}"


def signed_in(url: str, user: str) -> httpx.Client:
    web = httpx.Client(base_url=f"{url}/console")
    assert web.post("/login", data={"username": user, "password": PASSWORD}).status_code == 303
    return web


def live_call(web: httpx.Client) -> dict:
    """The seeded call on the live board (JSON), once the board has read its turns."""
    deadline = time.monotonic() + 20
    while True:
        answer = web.get("/api/live")
        assert answer.status_code == 200, answer.text
        call = next((c for c in answer.json()["calls"] if c["call_id"] == CALL), None)
        if call is not None and len(call["turns"]) == len(TURNS):
            return call
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)


def clear(text: str, secrets: list[str]) -> list[str]:
    """Which of `secrets` are in `text` in clear."""
    return [s for s in secrets if s in text.lower()]


def test_a_supervisor_sees_everything_in_clear(server):
    web = signed_in(server, "sam")
    everything = NAME_TEXT + CONTACT_TEXT + AMOUNT_TEXT + BIRTH_TEXT
    page = web.get(f"/calls/{CALL}").text
    assert clear(page, everything) == everything and PHONE in page and f'title="{SMS}"' in page
    assert NAME in web.get("/calls").text and PHONE in web.get("/calls").text
    assert f"{NAME},{PHONE}" in web.get("/calls.csv").text
    assert web.get(f"/calls/{CALL}/recording").status_code == 200
    texts = " ".join(f"{t['debtor_text']} {t['bot_text']}" for t in live_call(web)["turns"])
    assert PROMISE in texts and CARD in texts and NAME in texts
    exported = load_nlu_text(web.get("/corrections.yml").text, "corrections.yml").examples
    assert [(e.text, [x.text for x in e.entities]) for e in exported] == [(PROMISE, ["200", "Friday"])]
    shown = web.get(f"/live/collections/{CALL}").text  # a supervisor opens any packet, claimed or not
    assert NAME in shown and PROMISE in shown and CARD in shown


def test_an_agent_sees_names_and_amounts_but_no_contact_details(server):
    web = signed_in(server, "alex")
    page = web.get(f"/calls/{CALL}").text
    assert not clear(page, CONTACT_TEXT), clear(page, CONTACT_TEXT)
    assert PHONE not in page and "+*******0102" in page
    assert NAME in page and "$860.50" in page and "03/14/1985" in page and "I can pay 200 on Friday" in page
    assert "**** **** **** 1111" in page and "m**********@*******.***" in page
    assert f'title="{SMS}"' in page  # the SMS says the name and the balance, both seen by agents
    listed = web.get("/calls").text
    assert NAME in listed and PHONE not in listed
    assert web.get("/calls.csv").status_code == 403
    assert web.get(f"/calls/{CALL}/recording").status_code == 200
    call = live_call(web)
    texts = " ".join(f"{t['debtor_text']} {t['bot_text']}" for t in call["turns"])
    assert not clear(texts, CONTACT_TEXT) and NAME in texts and "$860.50" in texts and "I can pay 200" in texts
    assert web.post(f"/live/collections/{CALL}/claim").status_code == 303
    shown = web.get(f"/live/collections/{CALL}")
    assert shown.status_code == 200 and "+*******0102" in shown.text, shown.text
    assert not clear(shown.text, CONTACT_TEXT) and NAME in shown.text and "$860.50" in shown.text


def test_a_script_designer_sees_no_personal_value_anywhere(server):
    web = signed_in(server, "dana")
    secrets = NAME_TEXT + CONTACT_TEXT + AMOUNT_TEXT + BIRTH_TEXT
    page = web.get(f"/calls/{CALL}").text
    assert not clear(page, secrets), clear(page, secrets)
    # What was said keeps its wording, with the personal values masked where they stood.
    assert "May I speak with M**** L****?" in page and "yes this is M**** L****" in page
    assert "I can pay *** on Friday, call me back on *** *** 0102 or write to m**********@*******.***" in page
    assert "Your balance of $***.** was due" in page and "born on **/**/****" in page
    assert "+*******0102" in page and "promised_amount: ***" in page
    assert 'id="recording"' not in page  # recordings are the debtor's voice: no player, no file
    assert web.get(f"/calls/{CALL}/recording").status_code == 403
    assert web.post(f"/api/calls/{CALL}/played").status_code == 403
    for path in ("/calls", "/calls.csv", "/corrections.yml"):
        body = web.get(path).text
        assert not clear(body, secrets), (path, clear(body, secrets))
    assert "M**** L****" in web.get("/calls").text
    assert "M**** L****,'+*******0102" in web.get("/calls.csv").text  # quoted: a leading + is a formula
    exported = load_nlu_text(web.get("/corrections.yml").text, "corrections.yml").examples
    masked = "I can pay *** on Friday, call me back on *** *** 0102 or write to m**********@*******.***"
    # Still training data for the intent: the wording, and the entity whose words stayed.
    assert [(e.text, e.intent, [x.text for x in e.entities]) for e in exported] == \
        [(masked, "promise_to_pay", ["Friday"])]
    for path in ("/live", "/api/live", f"/live/collections/{CALL}", "/audit", "/dashboard"):
        assert web.get(path).status_code == 403, path


def test_chinese_names_numbers_and_amounts_are_masked_for_a_designer():
    """A name written without spaces, a number right after Chinese text, amounts in 元."""
    said = "您好,请问您是张伟本人吗?您本期应还5800元,最低还款580元。"
    mask = Principal("dana", "script_designer").masker(known("张伟", "+8613800000001", {}, [said]))
    assert mask.text(said) == "您好,请问您是张*本人吗?您本期应还****元,最低还款***元。"
    assert mask.text("我的电话是13800000001,先还5800") == "我的电话是*******0001,先还****"
    assert mask.text("ACC-12345678 在 2026年3月14日") == "ACC-12345678 在 ****年*月**日"


def test_a_template_handed_a_raw_row_fails_instead_of_showing_it():
    """A new page that passes a stored row to its template, not its masked view, fails loudly."""
    templates = _templates()
    refuse_raw_records(templates.env)
    for source in ("{{ c.debtor_name }}", "{{ c['phone'] }}", "{% for t in c.turns %}{{ t }}{% endfor %}"):
        with pytest.raises(RawRecordInTemplate):
            templates.env.from_string(source).render(c=Call(id="x", debtor_name=NAME, phone=PHONE))
    assert templates.env.from_string("{{ c.debtor }}").render(c={"debtor": "M**** L****"}) == "M**** L****"
