"""An ASGI app served by uvicorn on 127.0.0.1 in a thread: for tests that need a real socket
(WebSockets, the desk's cookies, what the server itself logs)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import pytest
import uvicorn

START_WAIT = 10.0   # seconds a server may take to start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """``with ThreadedServer(app) as srv:`` serves ``app`` at ``srv.url`` until the block ends."""

    def __init__(self, app: Any, *, name: str = "test-server", **config: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config.setdefault("log_level", "warning")
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **config))
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + START_WAIT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail(f"{self.thread.name} did not start")
            time.sleep(0.02)   # polling the start flag of a thread: no event to wait on
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
