"""What this CPU computes in hardware, read once from its flags: speed defaults are decided by the machine
they run on, never by a constant measured on another."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)



@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split())


def bf16_supported() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def amx_supported() -> bool:
    return "amx_bf16" in cpu_flags()


DTYPES = ("auto", "fp32", "bf16")


def uses_bf16(dtype: str, auto: bool) -> bool:
    """Whether a dtype setting means bf16: "auto" does where ``auto`` allows it and the CPU computes bf16 in hardware."""
    return dtype == "bf16" or (dtype == "auto" and auto and bf16_supported())
