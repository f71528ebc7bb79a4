"""The web server as `make run` starts it turns Nagle off on every connection.

With `--workers N`, uvicorn binds the listening socket itself and hands it to each worker; on
asyncio's loop the accepted connections then keep Nagle's algorithm on, and every keep-alive
response after the first waits ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149). runstack's
web_command names uvloop, which sets TCP_NODELAY on every TCP connection. This test serves through
that same pre-bound-socket path with the loop and HTTP parser web_command names, and reads the
option off the server's side of a live keep-alive connection.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
from uvicorn import Config, Server
from uvicorn.main import main as uvicorn_main

from mindpost.core.management.commands.runstack import web_command


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _loop_and_http(command: list[str]) -> tuple[str, str]:
    # uvicorn's own CLI parser reads the command, so the test follows whatever web_command passes.
    uvicorn_args = command[command.index("uvicorn") + 1 :]
    params = uvicorn_main.make_context("uvicorn", uvicorn_args).params
    return str(params["loop"]), str(params["http"])


def test_make_run_web_server_sets_tcp_nodelay_on_keepalive_connections() -> None:
    command = web_command(python="python", host="127.0.0.1", port=0, workers=2)
    assert command[command.index("--workers") + 1] == "2"
    loop, http = _loop_and_http(command)
    config = Config(app=_ok, host="127.0.0.1", port=0, loop=loop, http=http, log_level="warning", lifespan="off")
    listener = config.bind_socket()  # the socket --workers shares: uvicorn creates it with proto 0
    port = listener.getsockname()[1]
    server = Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(2):  # the second request rides the kept-alive connection
                assert client.get("/").text == "ok"
            (connection,) = server.server_state.connections
            server_side = connection.transport.get_extra_info("socket")
            assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
