"""What this CPU computes in hardware, read once from its flags: speed defaults are decided by the machine
they run on, never by a constant measured on another."""

from __future__ import annotations

import logging
import platform
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")  # the ones our speed defaults read


def speed_flags() -> list[str]:
    return sorted(set(SPEED_FLAGS) & cpu_flags())


def bf16_supported() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def amx_supported() -> bool:
    return "amx_bf16" in cpu_flags()


def int8_supported() -> bool:
    """AVX512-VNNI multiplies int8 matrices in hardware. (AVX-VNNI and plain AVX2 CPUs also run int8, through
    slower paths that were not measured: they keep the llama.cpp default.)"""
    return "avx512_vnni" in cpu_flags()


DTYPES = ("auto", "fp32", "bf16")
GENERATE_DTYPES = (*DTYPES, "int8")


def generator_dtype(dtype: str) -> str:
    """The generator's weights for a setting: "auto" is bf16 where the CPU multiplies bf16 matrices in AMX tiles,
    else int8 where it computes int8 (VNNI), else fp32. AVX512-BF16 without AMX is not enough: there the 1.5B
    read prompts at 46 tokens/s in bf16 against 124 with int8 layers (docs/benchmarks.md)."""
    if dtype != "auto":
        return dtype
    return "bf16" if amx_supported() else "int8" if int8_supported() else "fp32"
