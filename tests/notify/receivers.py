"""Where the tests' notifications arrive: a webhook for apprise's json:// scheme and a small SMTP
server for mailto:// (the standard library's smtpd is gone since Python 3.12), both on loopback."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import socketserver
import threading
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response


class Webhook:
    """Receives apprise's JSON posts ({"title", "message", "type", ...}); answers `status`."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        self.url = ""  # the json:// URL apprise posts to, once served
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            self.received.append({**(await request.json()), "path": path})
            return Response(status_code=self.status)

    @property
    def texts(self) -> list[str]:
        return [f"{item['title']}\n{item['message']}" for item in self.received]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    login: str  # what AUTH PLAIN sent: "user password", or "" without a login

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def text(self) -> str:
        """The subject and the plain-text body, decoded."""
        message = self.message
        body = message.get_body(("plain", "html"))
        return f"{message['subject']}\n{body.get_content()}"


@dataclass
class MailServer:
    """An SMTP server speaking just enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT)
    for smtplib, as apprise drives it without TLS."""

    mails: list[Mail] = field(default_factory=list)
    port: int = 0
    url: str = ""  # a mailto:// URL for apprise, once the test has chosen its options

    def __post_init__(self) -> None:
        mails = self.mails

        class Session(socketserver.StreamRequestHandler):
            def reply(self, *lines: str) -> None:
                for number, line in enumerate(lines, start=1):
                    code, text = line.split(" ", 1)
                    self.wfile.write(f"{code}{' ' if number == len(lines) else '-'}{text}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                sender, recipients, login = "", [], ""
                while line := self.rfile.readline():
                    command = line.decode("utf-8", "replace").rstrip("\r\n")
                    verb, _, rest = command.partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.reply("250 localhost", "250 AUTH PLAIN", "250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 localhost")
                    elif verb == "AUTH" and rest.upper().startswith("PLAIN "):
                        _, user, password = base64.b64decode(rest.split(" ", 1)[1]).decode().split("\0")
                        login = f"{user} {password}"
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb == "MAIL":
                        sender, recipients = rest.partition(":")[2].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(rest.partition(":")[2].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        mails.append(Mail(sender, recipients, b"".join(lines), login))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    def __enter__(self) -> MailServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
