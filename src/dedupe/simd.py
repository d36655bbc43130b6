"""Which of numpy's SIMD code paths the ``dedupe`` command starts numpy with.

numpy sorts with x86-simd-sort, whose AVX-512 partition step writes every vector with a
compress-store to memory (``vpcompressq``). AMD's Zen 4 runs that instruction in microcode, at
over 100 cycles each, so there numpy's AVX-512 sort is 5x slower than its AVX2 sort: on the Zen 4
machine the benchmarks ran on, 3.65 million random uint64 took 0.21 s against 0.042 s, with
numpy 2.0, 2.3 and 2.4 alike. A scan sorts large arrays when it links: the LSH bands' keys, the
pairs and the components. With numpy's AVX2 paths the x100 full scan took 69.2 s instead of
74.9, the x10 one 6.9-7.4 s instead of 7.4-7.6 (alternating runs), the signing of x1 the same.
Zen 4 runs AVX-512 arithmetic on 256-bit units, so the other steps lose nothing measurable.

numpy reads the paths to turn off from ``NPY_DISABLE_CPU_FEATURES`` once, when it is imported:
the command sets it first (:func:`prefer_fast_sort`), and only

- on Zen 4: AMD's family 25 with AVX-512 (Zen 3, the same family, has none; Zen 5, family 26,
  runs the store in hardware);
- with numpy 2.0 or later, whose sort has an AVX2 path (1.26 falls back to a scalar sort no
  faster), naming the features as that version does (2.4 grouped them as ``X86_V4``);
- where numpy is not imported yet, and the user has not set ``NPY_DISABLE_CPU_FEATURES`` or
  ``NPY_ENABLE_CPU_FEATURES``: ``NPY_DISABLE_CPU_FEATURES=`` (empty) keeps all of numpy's paths.

The outputs are the same either way: a sort of values gives the same array whatever its
algorithm, and every argsort whose ties matter here is stable. The library sets nothing: a
program that imports dedupe owns its numpy.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from importlib.util import find_spec
from pathlib import Path

#: The environment variable numpy reads its disabled features from when it is imported.
DISABLE = "NPY_DISABLE_CPU_FEATURES"
_ENABLE = "NPY_ENABLE_CPU_FEATURES"
#: numpy's AVX-512 features, as numpy 2.4 and later name them and as 2.0-2.3 did (turning off
#: AVX512F turns off every feature built on it there).
_AVX512_FROM_2_4 = "X86_V4 AVX512_ICL AVX512_SPR"
_AVX512_BEFORE_2_4 = "AVX512F"
_ZEN_FAMILY = 25  # 0x19: Zen 3 and Zen 4
_VERSION = re.compile(r"""^version\s*=\s*["'](\d+)\.(\d+)""", re.MULTILINE)
#: /proc/cpuinfo is read this far: the first processor's block is well inside it.
_CPUINFO_BYTES = 16_384


def first_processor(cpuinfo: str) -> dict[str, str]:
    """The ``key: value`` fields of the first processor in ``/proc/cpuinfo``'s text.

    >>> first_processor("processor\\t: 0\\nvendor_id\\t: AuthenticAMD\\n\\nprocessor\\t: 1\\n")
    {'processor': '0', 'vendor_id': 'AuthenticAMD'}
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.split("\n\n", 1)[0].splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields[key.strip()] = value.strip()
    return fields


def slow_sort_features(cpuinfo: str, numpy_version: tuple[int, int] | None) -> str | None:
    """The ``NPY_DISABLE_CPU_FEATURES`` value that sends numpy's sorts to their AVX2 path on the
    CPU ``cpuinfo`` describes, for numpy ``(major, minor)``; None where they are fast already or
    have no such path.

    >>> zen4 = "vendor_id : AuthenticAMD\\ncpu family : 25\\nflags : fpu avx2 avx512f avx512bw"
    >>> slow_sort_features(zen4, (2, 4)), slow_sort_features(zen4, (2, 0))
    ('X86_V4 AVX512_ICL AVX512_SPR', 'AVX512F')
    >>> slow_sort_features(zen4, (1, 26)) is None
    True
    >>> slow_sort_features(zen4.replace("25", "26"), (2, 4)) is None  # Zen 5
    True
    """
    if numpy_version is None or numpy_version < (2, 0):
        return None
    fields = first_processor(cpuinfo)
    if fields.get("vendor_id") != "AuthenticAMD":
        return None
    try:
        family = int(fields.get("cpu family", ""))
    except ValueError:
        return None
    if family != _ZEN_FAMILY or "avx512f" not in fields.get("flags", "").split():
        return None
    return _AVX512_FROM_2_4 if numpy_version >= (2, 4) else _AVX512_BEFORE_2_4


def installed_numpy_version() -> tuple[int, int] | None:
    """The ``(major, minor)`` of the numpy that ``import numpy`` would load, read from its
    ``version.py`` without importing it (importlib.metadata took 35-70 ms); None if unknown."""
    try:
        spec = find_spec("numpy")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = _VERSION.search(text)
    return None if found is None else (int(found[1]), int(found[2]))


def _cpuinfo(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read(_CPUINFO_BYTES)
    except OSError:  # not Linux
        return ""


def prefer_fast_sort(
    environ: MutableMapping[str, str] = os.environ,
    modules: Mapping[str, object] = sys.modules,
    cpuinfo_path: str = "/proc/cpuinfo",
) -> str | None:
    """Set ``NPY_DISABLE_CPU_FEATURES`` in ``environ`` where numpy's AVX-512 sort is slow (see
    the module's notes), before numpy is imported; return what it was set to, or None where
    nothing was set. Worker processes inherit it (a fork numpy's state, a spawn the variable)."""
    if "numpy" in modules or DISABLE in environ or _ENABLE in environ:
        return None
    features = slow_sort_features(_cpuinfo(cpuinfo_path), installed_numpy_version())
    if features is not None:
        environ[DISABLE] = features
    return features
