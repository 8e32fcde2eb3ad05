"""CPU features seen at run time, and the llama.cpp weight buffer types chosen from them.

llama.cpp can repack weights into "extra" buffer types at load: the CPU repack (Q4_0/Q4_K/IQ4_NL
interleaved for AVX2/AVX-512/NEON, faster matmuls) and, on Intel CPUs with AMX, the AMX buffer type.
The AMX path segfaults in decode on Sapphire-Rapids-class Xeons with Q4_K models (upstream reports of
crashes in `ggml_backend_amx_mul_mat`), and llama_model_params has a single switch for both
(`use_extra_bufts`). So the default turns extra buffer types off where the CPU has AMX and keeps them
(the CPU repack) everywhere else. Override: `$SAGE_TUI_EXTRA_BUFTS` or `[engine] extra_bufts` in the
config file, each `auto` | `on` | `off`.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

EXTRA_BUFTS_ENV = "SAGE_TUI_EXTRA_BUFTS"
EXTRA_BUFTS_CHOICES = ("auto", "on", "off")
AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "avx_vnni", *AMX_FLAGS)


@dataclass(frozen=True)
class CpuInfo:
    """What the CPU offers: model name, architecture and the flags that matter to llama.cpp."""

    model: str
    machine: str
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_amx(self) -> bool:
        return any(f in self.flags for f in AMX_FLAGS)

    def simd(self) -> list[str]:
        """The SIMD flags llama.cpp cares about, in a stable order."""
        return [f for f in SIMD_FLAGS if f in self.flags]


def parse_cpuinfo(text: str) -> CpuInfo:
    """CpuInfo from the text of /proc/cpuinfo (first processor block; x86 `flags`, ARM `Features`)."""
    model, flags = "", ""
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not model:
            model = val.strip()
        elif key in ("flags", "features") and not flags:
            flags = val
    return CpuInfo(model or platform.processor() or "unknown", platform.machine(), frozenset(flags.split()))


def detect_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """The running machine's CpuInfo (empty flags where /proc/cpuinfo is unreadable, e.g. macOS)."""
    try:
        return parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return CpuInfo(platform.processor() or "unknown", platform.machine())


@dataclass(frozen=True)
class BufferChoice:
    """Whether llama.cpp may use extra (repacking) weight buffer types, and why."""

    use_extra_bufts: bool
    setting: str  # auto | on | off
    source: str  # "default" | "$SAGE_TUI_EXTRA_BUFTS" | the config file's path ([engine] extra_bufts)
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"use_extra_bufts": self.use_extra_bufts, "setting": self.setting, "source": self.source,
                "reason": self.reason}


def choose_buffers(cpu: CpuInfo | None = None, *, env: Mapping[str, str] | None = None,
                   config: Path | None = None) -> BufferChoice:
    """The extra-buffer-type decision: `$SAGE_TUI_EXTRA_BUFTS`, else the config key, else `auto`
    (off on AMX CPUs, on elsewhere). A bad value is a ConfigError naming the variable or field."""
    from core.llm.engine.settings import engine_setting

    setting, source = engine_setting("extra_bufts", EXTRA_BUFTS_ENV, EXTRA_BUFTS_CHOICES, "auto", env=env, config=config)
    if setting == "on":
        return BufferChoice(True, setting, source, "forced on")
    if setting == "off":
        return BufferChoice(False, setting, source, "forced off")
    cpu = cpu or detect_cpu()
    if cpu.has_amx:
        amx = ", ".join(f for f in AMX_FLAGS if f in cpu.flags)
        return BufferChoice(False, setting, source, f"CPU has AMX ({amx}): llama.cpp's AMX repack crashes in decode")
    return BufferChoice(True, setting, source, "no AMX: CPU weight repack kept")
