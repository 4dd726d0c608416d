"""What the broker saw and holds: every command it received meanwhile (MONITOR), and every key's value."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import redis


@contextlib.contextmanager
def broker_commands(url: str) -> Iterator[list[str]]:
    """Every command the broker's Redis receives meanwhile, as text (MONITOR)."""
    seen: list[str] = []
    client = redis.Redis.from_url(url)
    ready = threading.Event()
    stopping = threading.Event()

    def listen() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                seen.append(command["command"])
                if stopping.is_set() and "latchkey-monitor-stop" in command["command"]:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield seen
    finally:
        stopping.set()
        redis.Redis.from_url(url).echo("latchkey-monitor-stop")
        thread.join(10)


def broker_contents(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        readers = {
            "string": lambda k: client.get(k),
            "list": lambda k: client.lrange(k, 0, -1),
            "hash": lambda k: client.hgetall(k),
            "set": lambda k: client.smembers(k),
            "zset": lambda k: client.zrange(k, 0, -1),
        }
        value: Any = readers.get(kind, lambda k: b"")(key)
        found.append(f"{key!r} {value!r}")
    return found
