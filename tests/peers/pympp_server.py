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

Two RPC calls pympp makes do not work on anvil; ``AnvilCompat`` below adapts
just those two (see its docstring). Everything else is pympp as installed.

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


class AnvilCompat(httpx.AsyncHTTPTransport):
    """pympp's RPC transport, with two fixes for anvil (1.7.1, --network tempo).

    1. pympp broadcasts with ``eth_sendRawTransactionSync [raw, timeoutMs]``
       (the optional timeout of EIP-7966); anvil refuses the second parameter
       (``invalid type: integer `20000`, expected ... bytes``), which pympp
       reports as an internal error. The timeout is dropped; pympp still
       bounds the call with its own deadline.
    2. Before broadcasting a sponsored transaction pympp simulates it with
       ``tempo_simulateV1``, which anvil lacks (``Method not found``). It is
       answered here with anvil's ``eth_simulateV1`` over the transaction's
       calls, in order, from the sender (plain calls: a ``type: 0x76`` call
       makes anvil's eth_simulateV1 panic and exit), reduced to the one call
       result pympp reads: status 0x1 when every call succeeded, else 0x0 and
       the first error.
    Every other request goes to anvil unchanged.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await super().handle_async_request(request)
        body = await request.aread()
        try:
            message = json.loads(body)
        except ValueError:
            return await super().handle_async_request(request)
        if isinstance(message, dict) and message.get("method") == "tempo_simulateV1":
            return await self._simulate(request, message)
        changed = False
        for call in message if isinstance(message, list) else [message]:
            if (
                isinstance(call, dict)
                and call.get("method") == "eth_sendRawTransactionSync"
                and isinstance(call.get("params"), list)
                and len(call["params"]) > 1
            ):
                call["params"] = call["params"][:1]
                changed = True
        if changed:
            request = self._with_body(request, message)
        return await super().handle_async_request(request)

    @staticmethod
    def _with_body(request: httpx.Request, message: object) -> httpx.Request:
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() != "content-length"
        ]
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=json.dumps(message).encode(),
            extensions=request.extensions,
        )

    async def _simulate(self, request: httpx.Request, message: dict) -> httpx.Response:
        params = message.get("params") or [{}]
        block = params[1] if len(params) > 1 else "latest"
        calls = []
        for state in params[0].get("blockStateCalls", []):
            for tx in state.get("calls", []):
                ordered = [*tx.get("calls", []), {k: tx[k] for k in ("to", "value", "data") if k in tx}]
                calls += [{"from": tx.get("from"), **call} for call in ordered]
        forwarded = {
            "jsonrpc": "2.0",
            "id": message.get("id"),
            "method": "eth_simulateV1",
            "params": [{"blockStateCalls": [{"calls": calls}], "validation": False}, block],
        }
        response = await super().handle_async_request(self._with_body(request, forwarded))
        await response.aread()
        reply = json.loads(response.content)
        if "error" not in reply:
            results = reply["result"][0]["calls"]
            failed = next((r for r in results if r.get("status") != "0x1"), None)
            call = {"status": "0x1"} if failed is None else {
                "status": "0x0",
                "error": failed.get("error") or {"message": failed.get("returnData")},
            }
            reply = {"jsonrpc": "2.0", "id": message.get("id"), "result": {"blocks": [{"calls": [call]}]}}
        return httpx.Response(200, json=reply)


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
