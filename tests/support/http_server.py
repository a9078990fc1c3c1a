"""Real `memcollab serve --transport http` subprocesses on loopback, and MCP clients that reach them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

MEMCOLLAB = str(Path(sys.executable).parent / "memcollab")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, deadline: float = 90.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {deadline}s")


def serve_env(store: str | Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMCOLLAB_")}
    env.update({"MEMCOLLAB_STORE": str(store), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "MEMCOLLAB_EMBEDDINGS": "off", "MEMCOLLAB_AUTO_MAINTAIN": "0"})
    env.update(extra)
    return env


class HttpServer:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}/mcp"

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def http_server(store: str | Path, log_dir: Path, *args: str, **env: str):
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([MEMCOLLAB, "serve", "--transport", "http", "--port", str(port), *args],
                                env=serve_env(store, **env), stdout=out, stderr=subprocess.STDOUT)
    server = HttpServer(proc, port, log)
    try:
        wait_port(port, proc)
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def http_client(url: str, token: str | None = None, **headers: str):
    """The Python SDK's Streamable HTTP client, with a bearer token."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
            Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        yield client


def post(url: str, body: Any = None, token: str | None = None, **headers: str) -> Any:
    """One raw JSON-RPC POST (for status codes)."""
    import httpx2

    h = {"content-type": "application/json", "accept": "application/json, text/event-stream", **headers}
    if token is not None:
        h["authorization"] = f"Bearer {token}"
    # default: an `initialize`, the one request a server answers without a session in either mode
    body = body if body is not None else {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    content = body if isinstance(body, bytes) else __import__("json").dumps(body).encode()
    return httpx2.post(url, content=content, headers=h, timeout=60)
