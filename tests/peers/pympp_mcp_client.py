"""pympp 0.16's ``McpClient`` (extra ``mcp``) paying a tool of an MCP
server over streamable HTTP with a Tempo charge, for testing our
``PaidServer`` with a client we did not write. Run it with the Python that
has ``pympp[mcp]`` (``.tools/venv/bin/python``, set up by ``scripts/test``).

Configuration, from the environment: ``MCP_URL`` (required), ``TOOL``
(default ``joke``), ``TEMPO_RPC_URL`` (required), ``TEMPO_CHAIN_ID``
(default 1337), ``PAYER_KEY`` (required).

Prints one JSON line: ``{"content": [...], "receipt": {...}, "replay":
{"code": N}}``, where ``replay`` is the server's answer to the paying
credential sent again; ``{"error": "..."}`` with exit code 1 when the client
gives up.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError
from mpp.extensions.mcp import McpClient
from mpp.methods.tempo import TempoAccount
from mpp.methods.tempo import client as tempo

CREDENTIAL = "org.paymentauth/credential"


async def main() -> dict:
    tool = os.environ.get("TOOL", "joke")
    account = TempoAccount.from_key(os.environ["PAYER_KEY"])
    method = tempo.charge(
        account=account,
        chain_id=int(os.environ.get("TEMPO_CHAIN_ID", "1337")),
        rpc_url=os.environ["TEMPO_RPC_URL"],
    )
    async with streamablehttp_client(os.environ["MCP_URL"]) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            # The credential the wrapper sends, seen on the way out.
            sent = {}
            call_tool = session.call_tool

            async def recording(name, arguments=None, **kwargs):
                meta = kwargs.get("meta") or {}
                if CREDENTIAL in meta:
                    sent["credential"] = meta[CREDENTIAL]
                return await call_tool(name, arguments, **kwargs)

            session.call_tool = recording
            result = await McpClient(session, methods=[method]).call_tool(tool, {})
            try:
                await call_tool(tool, {}, meta={CREDENTIAL: sent["credential"]})
                replay = {"code": 0}
            except McpError as error:
                replay = {"code": error.error.code, "message": error.error.message}
            return {
                "content": [c.model_dump(mode="json") for c in result.result.content],
                "receipt": result.receipt.to_dict() if result.receipt else None,
                "replay": replay,
            }


if __name__ == "__main__":
    try:
        print(json.dumps(asyncio.run(main())))
    except Exception as error:  # noqa: BLE001 - the test reads the message
        print(json.dumps({"error": repr(error)}))
        sys.exit(1)
