"""A Tempo charge server built with pympp 0.16 (the ``mpp`` package), for
testing our client against a server we did not write.

Started by ``tests/support/peer_server.rs`` with the venv's Python
(``.tools/venv/bin/python``, set up by ``scripts/test``). pympp's server
engine is framework-neutral (``mpp.server.Request`` in, ``Response`` out),
so this serves it with the standard library's ``http.server``; every payment
coroutine runs on one asyncio loop in a background thread.

Configuration, all from the environment:
  PEER_PORT             port on 127.0.0.1 (default 0: the OS picks one)
  TEMPO_RPC_URL         the chain's JSON-RPC URL (anvil --network tempo)   [required]
  TEMPO_CHAIN_ID        chain id (default 1337)
  TEMPO_RECIPIENT       who gets paid                                      [required]
  TEMPO_CURRENCY        TIP-20 token (default PathUSD 0x20c0...0000)
  MPP_SECRET_KEY        HMAC key for challenge ids                         [required]
  MPP_REALM             realm (default 127.0.0.1)
  TEMPO_FEE_PAYER_KEY   private key that sponsors fees on /sponsored (the route exists only when set)
  TEMPO_SPLIT_RECIPIENT who gets the split on /split (the route exists only when set)

Routes (GET; other methods work the same):
  /paid       0.01 (10000 base units); pull or push
  /sponsored  0.01, methodDetails.feePayer = true (the fee payer co-signs a 0x78 envelope)
  /split      0.01, of which 2000 base units go to TEMPO_SPLIT_RECIPIENT
  /free       0 (zero amount; pympp has no proof credentials, see the notes)
Paid answers are 200 ``{"paid": true, "route": ...}`` with Payment-Receipt;
unknown paths 404.

Errors pympp raises instead of answering (``InternalPaymentError`` and the
like) become their problem details with their status (500 for internal
errors), without a challenge; anything else is a plain-text 500. Payment
failures are logged on stderr (``payment failed: ...``, with their causes).

Two RPC calls pympp makes do not work on anvil; ``AnvilCompat``
(pympp_anvil.py) adapts just those two (see its docstring). Everything else is pympp as installed.

Prints ``listening http://127.0.0.1:PORT`` on stdout once it listens; exits
when stdin closes, on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from mpp.methods.tempo import TempoAccount
from mpp.methods.tempo import server as tempo
from mpp.server import Mpp, PaymentError, Request, Response
from mpp.store import MemoryStore
from pympp_anvil import AnvilCompat  # beside this script

PATH_USD = "0x20c0000000000000000000000000000000000000"


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        sys.stderr.write(f"pympp_server: {name} is required\n")
        sys.exit(2)
    return default


PORT = int(env("PEER_PORT", "0"))
RPC_URL = env("TEMPO_RPC_URL")
CHAIN_ID = int(env("TEMPO_CHAIN_ID", "1337"))
RECIPIENT = env("TEMPO_RECIPIENT")
CURRENCY = env("TEMPO_CURRENCY", PATH_USD)
SECRET_KEY = env("MPP_SECRET_KEY")
REALM = env("MPP_REALM", "127.0.0.1")
FEE_PAYER_KEY = os.environ.get("TEMPO_FEE_PAYER_KEY") or None
SPLIT_RECIPIENT = os.environ.get("TEMPO_SPLIT_RECIPIENT") or None

# The loop every pympp coroutine runs on (its RPC client belongs to it).
loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()


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
    sys.stderr.write(f"{what}: {describe(error)}\n")


def build_routes() -> dict:
    """The route handlers; built on the loop, which pympp's clients bind to."""
    mpp = Mpp(
        methods=tempo.charge(
            recipient=RECIPIENT,
            chain_id=CHAIN_ID,
            rpc_url=RPC_URL,
            currencies=[CURRENCY],
            decimals=6,
            fee_payer=TempoAccount.from_key(FEE_PAYER_KEY) if FEE_PAYER_KEY else None,
            http_client=httpx.AsyncClient(transport=AnvilCompat(), timeout=30.0),
            # Explicit, which also keeps pympp's "no store configured" warning quiet.
            store=MemoryStore(),
        ),
        realm=REALM,
        secret_key=SECRET_KEY,
    )
    mpp.on_payment_failed(lambda event: log_failure("payment failed", event.get("error")))
    routes = {
        "/paid": mpp.charge(amount="0.01"),
        "/free": mpp.charge(amount="0"),
    }
    if FEE_PAYER_KEY:
        routes["/sponsored"] = mpp.charge(amount="0.01", fee_payer=True)
    if SPLIT_RECIPIENT:
        routes["/split"] = mpp.charge(
            amount="0.01", splits=[{"amount": "2000", "recipient": SPLIT_RECIPIENT}]
        )
    return routes


async def _build() -> dict:
    return build_routes()


ROUTES = asyncio.run_coroutine_threadsafe(_build(), loop).result()


async def handle(path: str, request: Request) -> Response:
    handler = ROUTES.get(path)
    if handler is None:
        return Response(status=404, headers={"Content-Type": "text/plain"}, body="not found\n")
    result = await handler(request)
    if result.status != 200:
        return result.challenge
    return result.with_receipt(Response.json({"paid": True, "route": path}))


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
            response = asyncio.run_coroutine_threadsafe(handle(path, request), loop).result()
        except PaymentError as error:
            # pympp raises the errors it does not answer with a challenge
            # (InternalPaymentError, ...); its framework glue leaves them to
            # the framework. Answer with their problem details, no challenge.
            log_failure(f"payment error on {path}", error)
            response = Response(
                status=error.status,
                headers={"Content-Type": "application/problem+json", "Cache-Control": "no-store"},
                body=json.dumps(error.to_problem_details()),
            )
        except Exception as error:  # noqa: BLE001 - report anything as a 500
            log_failure(f"handler error on {path}", error)
            response = Response(
                status=500, headers={"Content-Type": "text/plain"}, body=f"internal error: {error}\n"
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


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
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


if __name__ == "__main__":
    main()
