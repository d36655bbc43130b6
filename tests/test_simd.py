"""The command's choice of numpy's SIMD paths (dedupe.simd) and the package's lazy names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dedupe
from dedupe import simd

ZEN4 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512dq avx512bw avx512vl\n\n"
    "processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"
)
ZEN3 = ZEN4.replace(" avx512f avx512dq avx512bw avx512vl", "")
ZEN5 = ZEN4.replace("cpu family\t: 25", "cpu family\t: 26")
INTEL = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("cpu family\t: 25", "cpu family\t: 6")


@pytest.mark.parametrize(
    ("cpuinfo", "version", "expected"),
    [
        (ZEN4, (2, 4), "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN4, (3, 0), "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN4, (2, 3), "AVX512F"),
        (ZEN4, (2, 0), "AVX512F"),
        (ZEN4, (1, 26), None),  # no AVX2 sort to fall back to
        (ZEN4, None, None),
        (ZEN3, (2, 4), None),
        (ZEN5, (2, 4), None),
        (INTEL, (2, 4), None),
        (ZEN4.replace("cpu family\t: 25", "cpu family\t: ?"), (2, 4), None),
        ("", (2, 4), None),
    ],
)
def test_slow_sort_features(
    cpuinfo: str, version: tuple[int, int] | None, expected: str | None
) -> None:
    assert simd.slow_sort_features(cpuinfo, version) == expected


def test_only_the_first_processor_is_read() -> None:
    # A later block's fields never stand in for the first one's.
    later_only = "processor\t: 0\nvendor_id\t: AuthenticAMD\n\n" + ZEN4
    assert simd.slow_sort_features(later_only, (2, 4)) is None


def _cpuinfo(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


def test_prefer_fast_sort_sets_the_variable_on_zen4(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    chosen = simd.prefer_fast_sort(environ, {}, _cpuinfo(tmp_path, ZEN4))
    expected = simd.slow_sort_features(ZEN4, simd.installed_numpy_version())
    assert chosen == expected
    assert environ == ({} if expected is None else {simd.DISABLE: expected})


@pytest.mark.parametrize(
    ("environ", "modules"),
    [
        ({simd.DISABLE: ""}, {}),  # the user's own choice, even an empty one
        ({"NPY_ENABLE_CPU_FEATURES": "AVX2"}, {}),
        ({}, {"numpy": object()}),  # too late: numpy read the variable already
    ],
)
def test_prefer_fast_sort_leaves_what_it_must(
    tmp_path: Path, environ: dict[str, str], modules: dict[str, object]
) -> None:
    before = dict(environ)
    assert simd.prefer_fast_sort(environ, modules, _cpuinfo(tmp_path, ZEN4)) is None
    assert environ == before


def test_prefer_fast_sort_without_cpuinfo(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert simd.prefer_fast_sort(environ, {}, str(tmp_path / "missing")) is None
    assert environ == {}


def test_installed_numpy_version_is_the_running_one() -> None:
    major, minor = (int(part) for part in np.__version__.split(".")[:2])
    assert simd.installed_numpy_version() == (major, minor)


def test_importing_the_package_leaves_numpy_alone() -> None:
    loaded = "print('numpy' in sys.modules)"
    code = f"import sys, dedupe; {loaded}; dedupe.scan; {loaded}"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["False", "True"]


def test_every_public_name_resolves() -> None:
    for name in dedupe.__all__:
        value = getattr(dedupe, name)
        assert name == "__version__" or value.__name__ == name
    assert set(dedupe.__all__) <= set(dir(dedupe))
    with pytest.raises(AttributeError, match="no_such_name"):
        dedupe.no_such_name  # noqa: B018


def test_the_command_runs_as_a_module() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "dedupe", "--version"], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == f"dedupe {dedupe.__version__}"
