"""Real peers on loopback for the notifier tests: an HTTP server and a small SMTP server.

Both are real servers on real sockets; only their replies are scripted, so a
test can make the first requests fail and the next succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HttpServer", "SmtpServer", "http_server", "smtp_server"]


@dataclass
class HttpServer:
    """What the HTTP server received, and the statuses it will answer with (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    #: Extra headers of the scripted responses, one dict per entry of ``statuses``, in step with it.
    response_headers: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the requests answered 2xx."""
        return [r["body"] for r in self.requests if 200 <= r["status"] < 300]


@contextlib.contextmanager
def http_server(path: str = "/hook") -> Iterator[HttpServer]:
    """An HTTP server on a free loopback port, in a thread; stopped on exit."""
    state = HttpServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                status = state.statuses.pop(0) if state.statuses else 200
                extra = state.response_headers.pop(0) if state.response_headers else {}
                state.requests.append({"path": self.path, "status": status, "body": body})
                state.headers.append(dict(self.headers))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class SmtpServer:
    """What the SMTP server received: ``(mail_from, rcpt_tos, message bytes)``; replies to script."""

    port: int = 0
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    #: Replies to MAIL FROM, used first (e.g. "421 try later"); then "250 OK".
    mail_replies: list[str] = field(default_factory=list)
    sessions: int = 0


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """A minimal SMTP server (RFC 5321 commands smtplib uses) on a free loopback port."""
    state = SmtpServer()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.sessions += 1
        mail_from, rcpts = "", []

        async def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        try:
            await reply("220 localhost openbms test SMTP")
            while line := await reader.readline():
                command = line.decode().strip()
                verb = command[:4].upper()
                if verb == "EHLO":
                    await reply("250-localhost\r\n250 8BITMIME")
                elif verb == "HELO":
                    await reply("250 localhost")
                elif verb == "MAIL":
                    answer = state.mail_replies.pop(0) if state.mail_replies else "250 OK"
                    if answer.startswith("250"):
                        mail_from = command.split(":", 1)[1].strip().strip("<>")
                    await reply(answer)
                elif verb == "RCPT":
                    rcpts.append(command.split(":", 1)[1].strip().strip("<>"))
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (data := await reader.readline()) not in (b".\r\n", b""):
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    state.messages.append((mail_from, rcpts, b"".join(lines)))
                    mail_from, rcpts = "", []
                    await reply("250 OK: queued")
                elif verb in ("RSET", "NOOP"):
                    mail_from, rcpts = "", []
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 Command not implemented")
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()
