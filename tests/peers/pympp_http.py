"""What the pympp peer servers share: pympp's framework-neutral server
engine (``mpp.server.Request`` in, ``Response`` out) served with the standard
library's ``http.server``, every payment coroutine on one asyncio loop in a
background thread.

Used by ``pympp_server.py`` (Tempo) and ``pympp_evm.py`` (EVM), which import
it from their own directory.

``serve(port, handle)`` answers every request with ``await handle(path,
request)``. Errors pympp raises instead of answering (``InternalPaymentError``
and the like) become their problem details with their status, without a
challenge; anything else is a plain-text 500. It prints ``listening
http://127.0.0.1:PORT`` on stdout once it listens and exits when stdin
closes, on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn, TypeVar

from mpp.server import PaymentError, Request, Response

T = TypeVar("T")

# The loop every pympp coroutine runs on (its RPC clients belong to it).
loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()


def on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs ``coroutine`` on the shared loop and waits for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


def die(message: str) -> NoReturn:
    """Exits (status 2) with ``message`` on stderr, named by the script."""
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {message}\n")
    sys.exit(2)


def env(name: str, default: str | None = None) -> str:
    """An environment variable; exits with a message when a required one is missing."""
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        die(f"{name} is required")
    return default


def describe(error: BaseException | None) -> str:
    """An error and its causes, on one line (pympp hides RPC failures behind
    ``InternalPaymentError``)."""
    parts = []
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(repr(error))
        error = error.__cause__ or error.__context__
    return " <- ".join(parts)


def log_failure(what: str, error: BaseException | None) -> None:
    """Writes a failure and its causes to stderr."""
    sys.stderr.write(f"{what}: {describe(error)}\n")


Handle = Callable[[str, Request], Awaitable[Response]]


def serve(port: int, handle: Handle) -> None:
    """Serves ``handle`` on 127.0.0.1:``port`` until stdin closes or a signal."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path.split("?", 1)[0]
            host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
            request = Request(
                method=self.command,
                url=f"http://{host}{self.path}",
                headers=list(self.headers.items()),
                body=body,
                route=path,
            )
            try:
                response = on_loop(handle(path, request))
            except PaymentError as error:
                # pympp raises the errors it does not answer with a challenge
                # (InternalPaymentError, ...); its framework glue leaves them to
                # the framework. Answer with their problem details, no challenge.
                log_failure(f"payment error on {path}", error)
                response = Response(
                    status=error.status,
                    headers={
                        "Content-Type": "application/problem+json",
                        "Cache-Control": "no-store",
                    },
                    body=json.dumps(error.to_problem_details()),
                )
            except Exception as error:  # noqa: BLE001 - report anything as a 500
                log_failure(f"handler error on {path}", error)
                response = Response(
                    status=500,
                    headers={"Content-Type": "text/plain"},
                    body=f"internal error: {error}\n",
                )
            payload = response.body or b""
            self.send_response(response.status)
            for name, value in response.headers.multi_items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:  # quiet access log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def stop(*_: object) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
