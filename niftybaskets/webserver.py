"""Serving an ASGI app with uvicorn: in the foreground for scripts, in a thread for tests and tools."""

from __future__ import annotations

import errno
import socket
import threading
import time

import uvicorn

from niftybaskets.errors import InputError


class PortInUseError(InputError, OSError):
    """The address is taken; the message names it and what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one), or a clear PortInUseError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP lets asyncio switch Nagle off on accepted sockets; without it every
    # answer on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"{host}:{port} is already in use; stop the program using it or choose another port"
            ) from None
        raise
    sock.listen(128)
    return sock


def _config(app: object, sock: socket.socket, log_level: str) -> uvicorn.Config:
    host, port = sock.getsockname()[:2]
    # proxy_headers off: the client address must be the real peer, as the IP whitelist rule needs.
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False, access_log=False)


def serve_forever(app: object, sock: socket.socket, log_level: str = "info") -> None:
    uvicorn.Server(_config(app, sock, log_level)).run(sockets=[sock])


class BackgroundServer:
    """Runs an app on its own thread; `with BackgroundServer(app) as server: server.url`."""

    def __init__(self, app: object, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(app, self._sock, log_level))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
