"""Fixtures shared by the index tests: a real redis-server on a free loopback port.

Without ``redis-server`` on PATH the Redis cases are skipped, unless the ``CI`` environment
variable is set (``.ci/run`` sets it and installs the server): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ["sqlite", "redis"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server started for this test session."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed, and CI is set: .ci/run installs it")
        pytest.skip("redis-server is not installed (set CI=1 to make this a failure)")
    if not os.environ.get("CI"):
        pytest.importorskip("redis")
    import redis

    directory = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"redis-server exited with {process.returncode}")
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer within 10 s")
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def fresh_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    """A new, empty index location on ``backend``: a file under tmp_path, or a key prefix of
    its own in the test Redis."""
    if backend == "sqlite":
        return str(tmp_path / f"{name}.sqlite")
    url = request.getfixturevalue("redis_url")
    return f"{url}?prefix=t{uuid.uuid4().hex[:12]}-{name}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty index location, once per backend."""
    return fresh_location(backend, tmp_path, request, "index")
