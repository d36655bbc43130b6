"""Handing freed memory back: harmless wherever it runs, effective on glibc."""

from __future__ import annotations

import sys

from dedupe.memory import release_free_memory


def test_release_free_memory_runs_anywhere() -> None:
    blocks = [bytearray(1 << 20) for _ in range(8)]
    del blocks
    released = release_free_memory()
    assert isinstance(released, bool)
    if sys.platform.startswith("linux") and released:
        assert release_free_memory()  # and again: nothing left is no error


def test_limit_arenas_runs_anywhere_and_glibc_agrees() -> None:
    import subprocess

    # In a process of its own: the setting lasts as long as the process.
    code = "from dedupe.memory import limit_arenas; print(limit_arenas(), limit_arenas(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    agreed = out.stdout.split()
    assert agreed[0] == agreed[1] and agreed[0] in ("True", "False")
    if sys.platform.startswith("linux") and release_free_memory():  # glibc
        assert agreed == ["True", "True"]
