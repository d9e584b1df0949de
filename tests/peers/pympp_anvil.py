"""pympp's RPC transport adapted to anvil (1.7.1, ``--network tempo``), shared
by the pympp peer servers (``pympp_server.py``, ``pympp_mcp_server.py``).
"""

from __future__ import annotations

import json

import httpx


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
