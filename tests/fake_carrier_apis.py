"""FAKES of the Telnyx, Plivo and Vonage REST APIs, for the providers' tests.

The carriers' APIs cannot be reached from here, so each fake is a small FastAPI app (run with
uvicorn on 127.0.0.1 by the tests) that checks what the carrier checks, as its API reference
describes it: the credentials (Telnyx: Bearer API key; Plivo: basic auth with the auth id in the
path; Vonage: an RS256 JWT of the application, verified with its public key, and the SMS API's
key and secret), the paths and methods, the required fields and their allowed values, and
whether the call id is one it issued.  It answers with the carrier's response shapes and its
error shapes and codes, and records every request (`requests`) for the tests to look at.
`calls` holds the live call ids; a test adds one to stand for a call the carrier connected.
It places no call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


@dataclass
class FakeApi:
    app: FastAPI
    requests: list[dict[str, Any]] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)      # live
    ended: set[str] = field(default_factory=set)      # issued, since hung up

    def of(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


async def _record(api: FakeApi, request: Request) -> dict[str, Any]:
    raw = await request.body()
    entry: dict[str, Any] = {"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                             "headers": dict(request.headers), "json": None, "form": None}
    if request.headers.get("content-type", "").startswith("application/json") and raw:
        entry["json"] = await request.json()
    elif raw:
        entry["form"] = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
    api.requests.append(entry)
    return entry


def _web_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).netloc)


# --- Telnyx Call Control v2 and Messaging ------------------------------------------------------

TELNYX_KEY, TELNYX_CONNECTION = "KEYfake0123456789", "1494404757140276705"


def telnyx_api() -> FakeApi:
    api = FakeApi(FastAPI())

    def errors(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> JSONResponse:
        error = {"code": code, "title": title, "detail": detail}
        if pointer:
            error["source"] = {"pointer": pointer}
        return JSONResponse({"errors": [error]}, status_code=status)

    async def checked(request: Request, required: list[str]) -> dict | JSONResponse:
        entry = await _record(api, request)
        if request.headers.get("authorization") != f"Bearer {TELNYX_KEY}":
            return errors(401, "10009", "Authentication failed", "The API key is missing or invalid.")
        body = entry["json"]
        if not isinstance(body, dict):
            return errors(400, "10002", "Invalid request", "The body must be a JSON object.")
        for name in required:
            if not body.get(name):
                return errors(422, "10004", "Missing required parameter", f"'{name}' is required.", f"/{name}")
        return body

    def live(call_control_id: str) -> JSONResponse | None:
        if call_control_id in api.ended:
            return errors(422, "90018", "Call has already ended",
                          "This call is no longer active and can't receive commands.")
        if call_control_id not in api.calls:
            return errors(404, "10005", "Resource not found", "The requested resource or URL could not be found.")
        return None

    @api.app.post("/v2/calls")
    async def dial(request: Request):
        body = await checked(request, ["connection_id", "to", "from"])
        if isinstance(body, JSONResponse):
            return body
        if body["connection_id"] != TELNYX_CONNECTION:
            return errors(422, "10015", "Invalid value for parameter", "Unknown connection_id.", "/connection_id")
        if "stream_url" in body and urlsplit(body["stream_url"]).scheme not in ("ws", "wss"):
            return errors(422, "10015", "Invalid value for parameter", "stream_url must be a WebSocket URL.",
                          "/stream_url")
        allowed = {"stream_track": {"inbound_track", "outbound_track", "both_tracks"},
                   "stream_bidirectional_mode": {"mp3", "rtp"},
                   "stream_bidirectional_codec": {"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16"}}
        for name, values in allowed.items():
            if name in body and body[name] not in values:
                return errors(422, "10015", "Invalid value for parameter", f"{name} is invalid.", f"/{name}")
        call_control_id = "v3:" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        api.calls.add(call_control_id)
        return {"data": {"call_control_id": call_control_id, "call_leg_id": str(uuid.uuid4()),
                         "call_session_id": str(uuid.uuid4()), "is_alive": False, "record_type": "call"}}

    @api.app.post("/v2/calls/{call_control_id}/actions/transfer")
    async def transfer(call_control_id: str, request: Request):
        body = await checked(request, ["to"])
        if isinstance(body, JSONResponse):
            return body
        refused = live(call_control_id)
        if refused is not None:
            return refused
        return {"data": {"result": "ok"}}

    @api.app.post("/v2/calls/{call_control_id}/actions/hangup")
    async def hangup(call_control_id: str, request: Request):
        body = await checked(request, [])
        if isinstance(body, JSONResponse):
            return body
        refused = live(call_control_id)
        if refused is not None:
            return refused
        api.calls.discard(call_control_id)
        api.ended.add(call_control_id)
        return {"data": {"result": "ok"}}

    @api.app.post("/v2/messages")
    async def message(request: Request):
        body = await checked(request, ["to", "text"])
        if isinstance(body, JSONResponse):
            return body
        if not (body.get("from") or body.get("messaging_profile_id")):
            return errors(422, "40005", "Invalid source number", "A 'from' or messaging_profile_id is required.",
                          "/from")
        return {"data": {"record_type": "message", "id": str(uuid.uuid4()), "direction": "outbound", "type": "SMS",
                         "from": {"phone_number": body.get("from")}, "text": body["text"],
                         "to": [{"phone_number": body["to"], "status": "queued"}]}}

    return api


# --- Plivo ---------------------------------------------------------------------------------

PLIVO_ID, PLIVO_TOKEN = "MAFAKEAUTHID000000000", "fake-plivo-auth-token"


def plivo_signs(url: str, auth_token: str = PLIVO_TOKEN) -> dict[str, str]:
    """The headers Plivo puts on its GET of an answer or transfer URL (signature V3, from Plivo's
    docs): base64 HMAC-SHA256 of `scheme://host/path?sorted query` + "." + a nonce."""
    parts, nonce = urlsplit(url), str(uuid.uuid4().int)[:20]
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{k}={v}" for k, v in pairs)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    signature = hmac.new(auth_token.encode(), f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return {"X-Plivo-Signature-V3": base64.b64encode(signature).decode(), "X-Plivo-Signature-V3-Nonce": nonce}


def plivo_api() -> FakeApi:
    api = FakeApi(FastAPI())

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"api_id": str(uuid.uuid4()), "error": message}, status_code=status)

    async def checked(request: Request, auth_id: str, required: list[str]) -> dict | JSONResponse:
        entry = await _record(api, request)
        expected = "Basic " + base64.b64encode(f"{PLIVO_ID}:{PLIVO_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected or auth_id != PLIVO_ID:
            return error(401, "Authentication credentials invalid")
        body = entry["json"] if entry["json"] is not None else {}
        for name in required:
            if not body.get(name):
                return error(400, f"{name} parameter is required")
        return body

    @api.app.post("/v1/Account/{auth_id}/Call/")
    async def make_call(auth_id: str, request: Request):
        body = await checked(request, auth_id, ["from", "to", "answer_url"])
        if isinstance(body, JSONResponse):
            return body
        if not _web_url(body["answer_url"]) or body.get("answer_method", "POST") not in ("GET", "POST"):
            return error(400, "answer_url is not a valid URL or answer_method is not GET or POST")
        return JSONResponse({"api_id": str(uuid.uuid4()), "message": "call fired",
                             "request_uuid": str(uuid.uuid4())}, status_code=201)

    @api.app.post("/v1/Account/{auth_id}/Call/{call_uuid}/")
    async def transfer(auth_id: str, call_uuid: str, request: Request):
        body = await checked(request, auth_id, ["legs"])
        if isinstance(body, JSONResponse):
            return body
        if body["legs"] not in ("aleg", "bleg", "both") or not _web_url(body.get(f"{body['legs']}_url")):
            return error(400, "legs must be aleg, bleg or both, with a valid URL for each leg")
        if body.get("aleg_method", "POST") not in ("GET", "POST"):
            return error(400, "aleg_method must be GET or POST")
        if call_uuid not in api.calls:
            return error(404, "not found")
        return JSONResponse({"api_id": str(uuid.uuid4()), "message": "call transferred"}, status_code=202)

    @api.app.delete("/v1/Account/{auth_id}/Call/{call_uuid}/")
    async def hang_up(auth_id: str, call_uuid: str, request: Request):
        body = await checked(request, auth_id, [])
        if isinstance(body, JSONResponse):
            return body
        if call_uuid not in api.calls:
            return error(404, "not found")
        api.calls.discard(call_uuid)
        return Response(status_code=204)

    @api.app.post("/v1/Account/{auth_id}/Message/")
    async def message(auth_id: str, request: Request):
        body = await checked(request, auth_id, ["src", "dst", "text"])
        if isinstance(body, JSONResponse):
            return body
        return JSONResponse({"api_id": str(uuid.uuid4()), "message": "message(s) queued",
                             "message_uuid": [str(uuid.uuid4())]}, status_code=202)

    return api


# --- Vonage Voice API and SMS API -----------------------------------------------------------

VONAGE_APP, VONAGE_KEY, VONAGE_SECRET = str(uuid.uuid4()), "abcd1234", "fakeSmsSecret123"


def vonage_api(public_key_pem: str) -> FakeApi:
    api = FakeApi(FastAPI())

    def error(status: int, kind: str, title: str, detail: str) -> JSONResponse:
        return JSONResponse({"type": f"https://developer.nexmo.com/api-errors#{kind}", "title": title,
                             "detail": detail, "instance": str(uuid.uuid4())}, status_code=status)

    async def checked(request: Request) -> dict | JSONResponse:
        entry = await _record(api, request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, public_key_pem, algorithms=["RS256"], options={"require": ["iat", "jti"]})
        except jwt.PyJWTError:
            return error(401, "unauthorized", "Unauthorized", "You did not provide correct credentials.")
        if scheme != "Bearer" or claims.get("application_id") != VONAGE_APP or abs(claims["iat"] - time.time()) > 300:
            return error(401, "unauthorized", "Unauthorized", "You did not provide correct credentials.")
        if not isinstance(entry["json"], dict):
            return error(400, "bad-request", "Bad Request", "The request body is not JSON.")
        return entry["json"]

    @api.app.post("/v1/calls")
    async def create(request: Request):
        body = await checked(request)
        if isinstance(body, JSONResponse):
            return body
        to, source = body.get("to"), body.get("from")
        phones = [t for t in to or [] if isinstance(t, dict) and t.get("type") == "phone"]
        if not phones or not all(str(t.get("number", "")).isdigit() for t in phones):
            return error(400, "validation", "Bad Request", "to: a phone endpoint with digits only is required")
        if not (isinstance(source, dict) and str(source.get("number", "")).isdigit()):
            return error(400, "validation", "Bad Request", "from: a phone endpoint with digits only is required")
        answer = body.get("answer_url")
        if "ncco" not in body and not (isinstance(answer, list) and answer and all(_web_url(u) for u in answer)):
            return error(400, "validation", "Bad Request", "either ncco or answer_url (an array of URLs) is required")
        call = str(uuid.uuid4())
        api.calls.add(call)
        return JSONResponse({"uuid": call, "status": "started", "direction": "outbound",
                             "conversation_uuid": "CON-" + str(uuid.uuid4())}, status_code=201)

    @api.app.put("/v1/calls/{call_uuid}")
    async def modify(call_uuid: str, request: Request):
        body = await checked(request)
        if isinstance(body, JSONResponse):
            return body
        action = body.get("action")
        if action not in ("hangup", "mute", "unmute", "earmuff", "unearmuff", "transfer"):
            return error(400, "validation", "Bad Request", "action is invalid")
        if action == "transfer":
            destination = body.get("destination") or {}
            if destination.get("type") != "ncco" or not (destination.get("ncco") or destination.get("url")):
                return error(400, "validation", "Bad Request", "destination: type ncco with an ncco or url")
        if call_uuid not in api.calls:
            return error(404, "not-found", "Not Found", f"Call {call_uuid} was not found")
        if action == "hangup":
            api.calls.discard(call_uuid)
        return Response(status_code=204)

    @api.app.post("/sms/json")
    async def sms(request: Request):
        entry = await _record(api, request)
        form = entry["form"] or {}
        if (form.get("api_key"), form.get("api_secret")) != (VONAGE_KEY, VONAGE_SECRET):
            return {"message-count": "1", "messages": [{"status": "4", "error-text": "Bad Credentials"}]}
        missing = [name for name in ("from", "to", "text") if not form.get(name)]
        if missing:
            return {"message-count": "1", "messages": [{"status": "2", "error-text": f"Missing {missing[0]}"}]}
        return {"message-count": "1", "messages": [{"to": form["to"], "message-id": uuid.uuid4().hex[:16].upper(),
                                                     "status": "0", "remaining-balance": "3.14",
                                                     "message-price": "0.0333", "network": "310260"}]}

    return api


# --- Asterisk REST Interface ----------------------------------------------------------------

ARI_USER, ARI_PASSWORD = "voicebot", "fake-ari-password"


@dataclass
class FakeAri(FakeApi):
    stasis: set[str] = field(default_factory=set)               # channels held by an ARI application
    bridges: dict[str, list[str]] = field(default_factory=dict)  # bridge id -> its channels

    def bridge(self, *channels: str) -> None:
        """An ARI application's call: channels in Stasis, in one mixing bridge."""
        self.calls.update(channels)
        self.stasis.update(channels)
        self.bridges[str(uuid.uuid4())] = list(channels)

    def _leave_bridges(self, channel: str) -> None:
        for members in self.bridges.values():
            if channel in members:
                members.remove(channel)


def ari_api() -> FakeAri:
    api = FakeAri(FastAPI())

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"message": message}, status_code=status)

    async def checked(request: Request) -> JSONResponse | None:
        await _record(api, request)
        expected = "Basic " + base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return error(401, "Authentication required")
        return None

    @api.app.get("/ari/bridges")
    async def bridges(request: Request):
        return await checked(request) or [
            {"id": bridge_id, "technology": "simple_bridge", "bridge_type": "mixing", "bridge_class": "stasis",
             "creator": "voicebot", "name": "", "channels": members, "video_mode": "none",
             "creationtime": "2026-12-06T10:00:00.000+0000"} for bridge_id, members in api.bridges.items()]

    @api.app.post("/ari/channels/{channel_id}/continue")
    async def continue_in_dialplan(channel_id: str, request: Request):
        refused = await checked(request)
        if refused is not None:
            return refused
        if channel_id not in api.calls:
            return error(404, "Channel not found")
        if channel_id not in api.stasis:
            return error(409, "Channel not in Stasis application")
        if not request.query_params.get("context") or not request.query_params.get("extension"):
            return error(400, "context and extension are required here")  # the fake's stricter check
        api.stasis.discard(channel_id)
        api._leave_bridges(channel_id)
        return Response(status_code=204)

    @api.app.delete("/ari/channels/{channel_id}")
    async def hangup(channel_id: str, request: Request):
        refused = await checked(request)
        if refused is not None:
            return refused
        reason = request.query_params.get("reason", "normal")
        if reason not in ("normal", "busy", "congestion", "no_answer", "timeout", "rejected", "unallocated",
                          "normal_unspecified", "number_incomplete", "codec_mismatch", "interworking",
                          "failure", "answered_elsewhere"):
            return error(400, "Invalid reason for hangup provided")
        if channel_id not in api.calls:
            return error(404, "Channel not found")
        api.calls.discard(channel_id)
        api.stasis.discard(channel_id)
        api._leave_bridges(channel_id)
        return Response(status_code=204)

    return api
