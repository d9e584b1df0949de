"""A Tempo charge server built with pympp 0.16 (the ``mpp`` package), for
testing our client against a server we did not write.

Started by ``tests/support/peer_server.rs`` with the venv's Python
(``.tools/venv/bin/python``, set up by ``scripts/test``); served by
``pympp_http.py`` beside it.

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

import json
import os

import httpx

from mpp.methods.tempo import TempoAccount
from mpp.methods.tempo import server as tempo
from mpp.server import Mpp, Request, Response
from mpp.store import MemoryStore
from pympp_anvil import AnvilCompat  # beside this script
from pympp_http import env, log_failure, on_loop, serve

PATH_USD = "0x20c0000000000000000000000000000000000000"

PORT = int(env("PEER_PORT", "0"))
RPC_URL = env("TEMPO_RPC_URL")
CHAIN_ID = int(env("TEMPO_CHAIN_ID", "1337"))
RECIPIENT = env("TEMPO_RECIPIENT")
CURRENCY = env("TEMPO_CURRENCY", PATH_USD)
SECRET_KEY = env("MPP_SECRET_KEY")
REALM = env("MPP_REALM", "127.0.0.1")
FEE_PAYER_KEY = os.environ.get("TEMPO_FEE_PAYER_KEY") or None
SPLIT_RECIPIENT = os.environ.get("TEMPO_SPLIT_RECIPIENT") or None


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


ROUTES = on_loop(_build())


async def handle(path: str, request: Request) -> Response:
    handler = ROUTES.get(path)
    if handler is None:
        return Response(status=404, headers={"Content-Type": "text/plain"}, body="not found\n")
    result = await handler(request)
    if result.status != 200:
        return result.challenge
    return result.with_receipt(Response.json({"paid": True, "route": path}))


if __name__ == "__main__":
    serve(PORT, handle)
