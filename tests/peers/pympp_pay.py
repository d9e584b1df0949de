"""Pays a URL with pympp's Tempo client and prints what came back.

Used by ``tests/peer_clients.rs``. Run it with the Python that has pympp
installed (``.tools/venv/bin/python``, set up by ``scripts/test``):

    pympp_pay.py --url URL --key 0xPRIVATE_KEY --rpc RPC_URL [--chain-id 1337]

Prints one JSON object on stdout:
``{"status": 200, "body": "...", "receipt": "<Payment-Receipt header or null>",
"problem": <body as JSON when it is JSON, else null>}``, or, when the client
itself gave up, ``{"error": "..."}`` with exit code 1.

pympp 0.16 pays in pull mode only (a signed 0x76 transaction with an
expiring nonce and ``valid_before = now + 60 s``); it has no push mode and no
proof credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mpp.client import Mpp
from mpp.methods.tempo import TempoAccount
from mpp.methods.tempo import client as tempo


async def pay(url: str, key: str, rpc: str, chain_id: int) -> dict:
    account = TempoAccount.from_key(key)
    method = tempo.charge(account=account, chain_id=chain_id, rpc_url=rpc)
    mpp = Mpp(methods=[method])
    try:
        response = await mpp.fetch(url)
    finally:
        await mpp.aclose()
    body = response.text
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    return {
        "status": response.status_code,
        "body": body,
        "receipt": response.headers.get("payment-receipt"),
        "problem": problem,
        "www_authenticate": response.headers.get_list("www-authenticate"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--chain-id", type=int, default=1337)
    args = parser.parse_args()
    try:
        out = asyncio.run(pay(args.url, args.key, args.rpc, args.chain_id))
    except Exception as e:  # report any client failure as JSON for the test
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
