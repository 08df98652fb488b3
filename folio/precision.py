"""Which arithmetic the local embedder runs in, chosen by the processor (FOLIO_EMBED_PRECISION).

MiniLM in bf16 (`torch.autocast`: matrix products in bfloat16, layer norms, softmax and the
pooled output in float32) is 2.3-2.4x faster than fp32 on a CPU that multiplies bf16 natively
(AVX512_BF16 or AMX), and its vectors are the fp32 ones to a cosine of 0.99996 at worst on dev
chunks (mean 0.99998), so the two are interchangeable in one index. Measured here (AMD EPYC
with AVX512_BF16, 1 thread, 200 dev chunks): fp32 22 chunks per CPU-s, bf16 52. A CPU without
native bf16 would emulate it, slower than fp32, so `auto` picks bf16 only where the hardware
has it: torch's kernels must run at AVX512 or above (`get_cpu_capability`, lowered by
ATEN_CPU_CAPABILITY) and the CPU must list `avx512_bf16` or `amx_bf16` (/proc/cpuinfo, or
torch's own probe where there is no /proc).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# get_cpu_capability() names the widest kernels torch dispatches to; bf16 needs AVX512's.
BF16_CAPABILITIES = frozenset({"AVX512", "AMX"})


class Precision(StrEnum):
    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    INT8 = "int8"  # ONNX Runtime only, opt-in: folio/embedding_onnx.py says why and what it costs


@dataclass(frozen=True)
class CpuInfo:
    capability: str  # torch.backends.cpu.get_cpu_capability(): DEFAULT, AVX2, AVX512, ...
    flags: frozenset[str]  # the CPU's feature flags (lower case)

    @property
    def bf16_flags(self) -> list[str]:
        return sorted(self.flags & BF16_FLAGS)


def native_bf16(cpu: CpuInfo) -> bool:
    """True when this CPU multiplies bf16 in hardware and torch will use those kernels."""
    return cpu.capability.upper() in BF16_CAPABILITIES and bool(cpu.flags & BF16_FLAGS)


def resolve(
    requested: Precision | str, cpu: CpuInfo | None = None, device: str = "cpu"
) -> Precision:
    """The precision to run: `auto` becomes bf16 or fp32 by the hardware; an explicit choice is
    kept (bf16 on a CPU without it works, emulated and slower). Devices other than the CPU run
    fp32: the autocast here is the CPU's."""
    requested = Precision(requested)
    if not device.startswith("cpu"):
        return Precision.FP32
    if requested is not Precision.AUTO:
        return requested
    return Precision.BF16 if native_bf16(cpu or cpu_info()) else Precision.FP32


def explain(requested: Precision | str, device: str = "cpu", cpu: CpuInfo | None = None) -> str:
    """Why `resolve` chose what it chose, for the start-up line and /health."""
    requested = Precision(requested)
    if not device.startswith("cpu"):
        return f"fp32 on {device}"
    cpu = cpu or cpu_info()
    have = ", ".join(cpu.bf16_flags) or "no avx512_bf16/amx_bf16"
    if requested is Precision.AUTO:
        if native_bf16(cpu):
            return f"auto: the CPU has {have}, torch {cpu.capability}"
        return f"auto: {have} on this CPU, torch {cpu.capability}"
    if requested is Precision.BF16 and not native_bf16(cpu):
        return "FOLIO_EMBED_PRECISION=bf16 without native bf16: emulated, slower than fp32"
    return f"FOLIO_EMBED_PRECISION={requested}"


@functools.cache
def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """This machine's torch capability and CPU flags (read once per process)."""
    import torch

    capability = str(torch.backends.cpu.get_cpu_capability())
    flags = _proc_flags(cpuinfo)
    if flags is None:  # no /proc (macOS, some containers): ask torch's own CPU probe
        flags = frozenset(name for name, probe in _torch_probes(torch) if probe())
    return CpuInfo(capability, flags)


def _proc_flags(path: Path) -> frozenset[str] | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.lower().split())
    return None


def _torch_probes(torch) -> list[tuple[str, Callable[[], bool]]]:  # noqa: ANN001 - the module
    probes = [("avx512_bf16", "_is_avx512_bf16_supported"), ("amx_bf16", "_is_amx_tile_supported")]
    return [(flag, getattr(torch.cpu, fn)) for flag, fn in probes if hasattr(torch.cpu, fn)]


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the whole machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
