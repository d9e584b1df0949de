"""pympp 0.16's EVM charge (``mpp.methods.evm``: EIP-3009 authorizations, the
one credential type it speaks) as a peer we did not write, on a plain anvil
with our test stablecoin. MODE=pay pays a URL with pympp's client; MODE=serve
runs pympp's server, served by ``pympp_http.py`` beside it.

Used by ``tests/evm_peers/pympp.rs``. Run it with the venv's Python
(``.tools/venv/bin/python``; ``scripts/test`` installs ``pympp[evm]`` there).

Configuration, all from the environment:
  MODE              "pay" or "serve"                                  [required]
  EVM_RPC_URL       the chain's JSON-RPC URL                          [required]
  EVM_CHAIN_ID      chain id (default 31337)
  EVM_CURRENCY      the EIP-3009 token (6 decimals)                   [required]
  EVM_TOKEN_NAME, EVM_TOKEN_VERSION  its EIP-712 domain (default "USD Coin", "2")
  CHALLENGE_HASH    "pympp" (default: as installed) or "draft" (see below)
  pay:   PAY_URL, PAYER_KEY                                           [required]
  serve: EVM_RECIPIENT, EVM_GAS_PAYER_KEY (submits the authorizations),
         MPP_SECRET_KEY                                               [required];
         PEER_PORT (default 0), MPP_REALM (default 127.0.0.1)

pay prints one JSON line ``{"status", "body", "receipt", "credential",
"failures", "hash_is_draft"}``: the paid answer, its Payment-Receipt header,
the Authorization header pympp sent (null when it sent none), the payment
failures pympp reported, and whether pympp as installed computes the draft's
challenge hash. serve answers GET /paid (0.01) with 200 ``{"paid": true}`` and
a receipt; payment failures go to stderr.

The challenge hash. draft-evm-charge-00 sets an authorization's nonce to
``keccak256(abi.encodePacked(id, realm))``, the bytes of the two strings one
after the other (mppx 0.11 and tower-mpp do that). pympp 0.16 hashes
``json.dumps([id, realm])`` instead, so its credentials name no challenge of
ours and ours none of its. CHALLENGE_HASH=draft swaps pympp's function for the
draft's, in the two modules that use it, so that everything else of its wire
form can be tested; with "pympp" it runs as installed.

pympp's server leaves settlement to the application (a facilitator or a
``settle`` hook): the hook here submits ``transferWithAuthorization`` from the
gas key and succeeds only on a mined, successful transaction.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from eth_abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

import mpp.methods.evm.client as evm_client
import mpp.methods.evm.intents as evm_intents
from mpp.client import Mpp as Client
from mpp.errors import VerificationFailedError
from mpp.methods.evm import server as evm_server
from mpp.methods.evm._eip3009 import challenge_hash
from mpp.server import Mpp, Request, Response
from mpp.store import MemoryStore
from pympp_http import die, env, log_failure, on_loop, serve

RPC_URL = env("EVM_RPC_URL")
CHAIN_ID = int(env("EVM_CHAIN_ID", "31337"))
CURRENCY = env("EVM_CURRENCY")
DOMAIN = {"name": env("EVM_TOKEN_NAME", "USD Coin"), "version": env("EVM_TOKEN_VERSION", "2")}


def draft_challenge_hash(challenge_id: str, realm: str) -> str:
    """draft-evm-charge-00's challenge hash: keccak256(id ‖ realm)."""
    return "0x" + keccak(text=challenge_id + realm).hex()


HASH_IS_DRAFT = challenge_hash("ab", "c") == draft_challenge_hash("ab", "c")

match env("CHALLENGE_HASH", "pympp"):
    case "draft":
        evm_client.challenge_hash = draft_challenge_hash
        evm_intents.challenge_hash = draft_challenge_hash
    case "pympp":
        pass
    case other:
        die(f"CHALLENGE_HASH must be draft or pympp, not {other!r}")


async def pay() -> dict:
    method = evm_client.charge(
        currency=CURRENCY,
        account=Account.from_key(env("PAYER_KEY")),
        chain_id=CHAIN_ID,
        decimals=6,
        authorization=DOMAIN,
    )
    sent: list[str] = []
    failures: list[str] = []
    async with Client(methods=[method]) as client:
        client.on_credential_created(lambda e: sent.append(e["credential"].to_authorization()))
        client.on_payment_failed(lambda e: failures.append(repr(e.get("error"))))
        response = await client.fetch(env("PAY_URL"))
    return {
        "status": response.status_code,
        "body": response.text,
        "receipt": response.headers.get("payment-receipt"),
        "credential": sent[-1] if sent else None,
        "failures": failures,
        "hash_is_draft": HASH_IS_DRAFT,
    }


AUTHORIZATION_ARGS = [
    "address", "address", "uint256", "uint256", "uint256", "bytes32", "uint8", "bytes32", "bytes32"
]
TRANSFER_WITH_AUTHORIZATION = keccak(
    text=f"transferWithAuthorization({','.join(AUTHORIZATION_ARGS)})"
)[:4]


async def rpc(http: httpx.AsyncClient, method: str, params: list) -> object:
    call = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = (await http.post(RPC_URL, json=call)).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


async def settle(authorization: evm_intents.Authorization) -> str:
    """Submits the authorization to the token; its transaction hash."""
    payload = authorization.payload
    signature = bytes.fromhex(payload["signature"][2:])
    v = signature[64] if signature[64] >= 27 else signature[64] + 27
    data = TRANSFER_WITH_AUTHORIZATION + encode(
        AUTHORIZATION_ARGS,
        [
            payload["from"],
            payload["to"],
            int(payload["value"]),
            int(payload["validAfter"]),
            int(payload["validBefore"]),
            bytes.fromhex(payload["nonce"][2:]),
            v,
            signature[:32],
            signature[32:64],
        ],
    )
    gas = Account.from_key(env("EVM_GAS_PAYER_KEY"))
    async with httpx.AsyncClient(timeout=30.0) as http:
        nonce = int(await rpc(http, "eth_getTransactionCount", [gas.address, "pending"]), 16)
        price = int(await rpc(http, "eth_gasPrice", []), 16)
        signed = gas.sign_transaction(
            {"to": CURRENCY, "data": data, "value": 0, "gas": 200_000,
             "gasPrice": 2 * price, "nonce": nonce, "chainId": CHAIN_ID}
        )
        tx = await rpc(http, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        for _ in range(300):
            receipt = await rpc(http, "eth_getTransactionReceipt", [tx])
            if receipt:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"transferWithAuthorization {tx} was not mined")
    if receipt["status"] != "0x1":
        # Nothing moved: pympp releases its claim and answers with a challenge.
        raise VerificationFailedError(f"transferWithAuthorization {tx} reverted")
    return tx


def build_route():
    """pympp's EVM charge of 0.01; built on the loop its clients bind to."""
    server = Mpp(
        methods=evm_server.charge(
            currency=CURRENCY,
            recipient=env("EVM_RECIPIENT"),
            chain_id=CHAIN_ID,
            decimals=6,
            authorization=DOMAIN,
            settle=settle,
            # Explicit, which also keeps pympp's "no store configured" warning quiet.
            store=MemoryStore(),
        ),
        realm=env("MPP_REALM", "127.0.0.1"),
        secret_key=env("MPP_SECRET_KEY"),
    )
    server.on_payment_failed(lambda event: log_failure("payment failed", event.get("error")))
    return server.charge(amount="0.01")


async def _build():
    return build_route()


async def handle(path: str, request: Request) -> Response:
    if path != "/paid":
        return Response(status=404, headers={"Content-Type": "text/plain"}, body="not found\n")
    result = await PAID(request)
    if result.status != 200:
        return result.challenge
    return result.with_receipt(Response.json({"paid": True}))


if __name__ == "__main__":
    match env("MODE"):
        case "pay":
            print(json.dumps(asyncio.run(pay())), flush=True)
        case "serve":
            PAID = on_loop(_build())
            serve(int(env("PEER_PORT", "0")), handle)
        case other:
            die(f"MODE must be pay or serve, not {other!r}")
