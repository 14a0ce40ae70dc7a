"""Headers that keep the console's pages, full of debtors' names and transcripts, where they
belong: not framed by another site (clickjacking), not running scripts from anywhere but the
console's own files, not kept in a browser's or a proxy's cache, not leaking the page address
to another site.  The console's templates use no inline script, so the policy allows none."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
}
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response under `prefix`; `no-store` on
    all but its static files (scripts and styles hold no personal data and may be cached).
    Plain ASGI rather than an `@app.middleware`, so a recording streams through untouched."""

    def __init__(self, app: ASGIApp, prefix: str):
        self.app, self.prefix, self.static = app, prefix, f"{prefix}/static/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        extra = dict(HEADERS)
        if not path.startswith(self.static):
            extra[NO_STORE[0]] = NO_STORE[1]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in extra]
                message = {**message, "headers": kept + list(extra.items())}
            await send(message)

        await self.app(scope, receive, send_with_headers)
