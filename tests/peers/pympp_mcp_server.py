"""An MCP server built on the Python ``mcp`` SDK (1.x) whose one tool,
``joke``, is paid through pympp 0.16's ``pay`` decorator
(``mpp.extensions.mcp``, extra ``mcp``) with a Tempo charge of 0.01 PathUSD.
For testing our MCP client against a server we did not write. Run it with
the venv's Python (``.tools/venv/bin/python``, set up by ``scripts/test``).

Why the tool call is not registered with ``@server.call_tool()`` (nor with
FastMCP's ``@mcp.tool()``): the SDK's ``call_tool`` handler (mcp 1.30) turns
every exception of a tool but URL elicitation into an ``isError`` result
whose only text is the exception's message, so pympp's
``PaymentRequiredError`` reaches the client as ``"Payment Required"`` with
no challenge in it (nobody can pay that, pympp's own ``McpClient``
included). FastMCP also makes the decorated tool's ``credential`` and
``receipt`` required arguments and never passes ``_meta``. So the
``tools/call`` request handler is set here directly: it lets pympp's
``McpError`` through to the SDK, which answers it as the JSON-RPC error
(``-32042`` / ``-32043`` with ``data.challenges``), and hands the request's
``_meta`` to the decorated tool, as the decorator expects.

Configuration, all from the environment:
  TEMPO_RPC_URL      the chain's JSON-RPC URL (anvil --network tempo)   [required]
  TEMPO_CHAIN_ID     chain id (default 1337)
  TEMPO_RECIPIENT    who gets paid                                      [required]
  MPP_SECRET_KEY     HMAC key for challenge ids                         [required]
  MPP_REALM          realm (default 127.0.0.1)

Serves streamable HTTP statelessly at /mcp. Prints
``listening http://127.0.0.1:PORT`` once it listens; exits when stdin
closes. Payment failures are logged on stderr.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

import httpx
import uvicorn
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Route

from mpp.extensions.mcp import pay
from mpp.methods.tempo import server as tempo
from mpp.server import Mpp
from mpp.store import MemoryStore
from pympp_anvil import AnvilCompat  # beside this script

PATH_USD = "0x20c0000000000000000000000000000000000000"


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        sys.stderr.write(f"pympp_mcp_server: {name} is required\n")
        sys.exit(2)
    return default


RPC_URL = env("TEMPO_RPC_URL")
CHAIN_ID = int(env("TEMPO_CHAIN_ID", "1337"))
RECIPIENT = env("TEMPO_RECIPIENT")
SECRET_KEY = env("MPP_SECRET_KEY")
REALM = env("MPP_REALM", "127.0.0.1")

server: Server = Server("pympp-mcp-peer")


@server.list_tools()
async def list_tools() -> list[types.Tool]:
    return [types.Tool(name="joke", description="A joke, 0.01 PathUSD", inputSchema={"type": "object"})]


def paid_joke():
    """The ``joke`` tool behind pympp's decorator; built on the server's
    loop, which pympp's RPC client binds to."""
    mpp = Mpp(
        methods=tempo.charge(
            recipient=RECIPIENT,
            chain_id=CHAIN_ID,
            rpc_url=RPC_URL,
            currencies=[PATH_USD],
            decimals=6,
            http_client=httpx.AsyncClient(transport=AnvilCompat(), timeout=30.0),
            store=MemoryStore(),
        ),
        realm=REALM,
        secret_key=SECRET_KEY,
    )
    mpp.on_payment_failed(lambda event: sys.stderr.write(f"payment failed: {event.get('error')!r}\n"))

    @pay(mpp.charge(amount="0.01"), tool="joke")
    async def joke(*, credential, receipt) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text="a paid joke")],
            _meta=receipt.to_meta(),
        )

    return joke


def serve_tools(joke) -> None:
    async def call_tool(request: types.CallToolRequest) -> types.ServerResult:
        if request.params.name != "joke":
            return types.ServerResult(
                types.CallToolResult(content=[types.TextContent(type="text", text="no such tool")], isError=True)
            )
        meta = request.params.meta.model_dump(by_alias=True) if request.params.meta else None
        # pympp's PaymentRequiredError (an McpError) propagates: the SDK
        # answers it as the JSON-RPC error it carries.
        return types.ServerResult(await joke(_meta=meta))

    server.request_handlers[types.CallToolRequest] = call_tool


sessions = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)


@contextlib.asynccontextmanager
async def lifespan(_app):
    serve_tools(paid_joke())
    async with sessions.run():
        yield


class McpEndpoint:
    """``/mcp`` itself (a ``Mount`` would redirect it to ``/mcp/``)."""

    async def __call__(self, scope, receive, send) -> None:
        await sessions.handle_request(scope, receive, send)


app = Starlette(routes=[Route("/mcp", endpoint=McpEndpoint(), methods=["GET", "POST", "DELETE"])], lifespan=lifespan)


def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    config = uvicorn.Config(app, log_level="warning")
    uv = uvicorn.Server(config)
    # Printed once the app's lifespan started, before serving.
    startup = uv.startup

    async def announce(sockets=None):
        await startup(sockets=sockets)
        print(f"listening http://127.0.0.1:{port}", flush=True)

    uv.startup = announce
    uv.run(sockets=[sock])


if __name__ == "__main__":
    main()
