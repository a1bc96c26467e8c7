"""An address on loopback where connections are never completed: the TCP handshake gets no answer.

A listening socket with a backlog of 0 whose accept queue is kept full by connections of our own
and which never accepts: Linux then drops further SYNs, so a client's `connect()` waits until its
own connect timeout (the kernel's SYN retries would take about two minutes). After `give_up_after`
seconds the listener closes, so a client without a working timeout gets "connection refused" at its
next SYN retry instead of hanging the test: a test can tell the two apart by the error.
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class Blackhole:
    def __init__(self, give_up_after: float = 5.0) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        # Linux queues backlog + 1 connections; a few more make sure the queue is full.
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)
        self._timer = threading.Timer(give_up_after, self.close)
        self._timer.daemon = True
        self._timer.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._timer.cancel()
        self._listener.close()
        for filler in self._fillers:
            filler.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()
