"""Per-GPU utilisation, memory and the processes on it, through NVML (optional extra `gpu`: nvidia-ml-py).
None where no NVIDIA driver answers or the extra is not installed; never torch."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class GpuStat:
    index: int  # NVML's index: PCI bus order, as CUDA_DEVICE_ORDER=PCI_BUS_ID numbers them
    name: str
    util_percent: int
    mem_used_mb: float
    mem_total_mb: float
    pids: list[int] = field(default_factory=list)


_lock = threading.Lock()
_state = {"ready": None}  # None: not tried yet; False: no NVML here; True: initialised


def nvml():
    """The pynvml module, initialised once; None when it is missing or no driver answers."""
    with _lock:
        if _state["ready"] is False:
            return None
        try:
            import pynvml
        except ImportError:
            _state["ready"] = False
            return None
        if _state["ready"] is None:
            try:
                pynvml.nvmlInit()
            except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded...: no GPU panel
                _state["ready"] = False
                return None
            _state["ready"] = True
        return pynvml


def read_gpus() -> list[GpuStat] | None:
    lib = nvml()
    if lib is None:
        return None
    try:
        stats = []
        for i in range(lib.nvmlDeviceGetCount()):
            handle = lib.nvmlDeviceGetHandleByIndex(i)
            name = lib.nvmlDeviceGetName(handle)
            util = lib.nvmlDeviceGetUtilizationRates(handle)
            mem = lib.nvmlDeviceGetMemoryInfo(handle)
            procs = lib.nvmlDeviceGetComputeRunningProcesses(handle)
            stats.append(GpuStat(i, name.decode() if isinstance(name, bytes) else str(name), int(util.gpu),
                                 mem.used / 2**20, mem.total / 2**20, [int(p.pid) for p in procs]))
        return stats
    except Exception:  # a GPU that falls off the bus mid-read: the panel says nothing rather than crash
        return None


def unavailable() -> bool:
    """True once NVML was found missing (no extra, no driver): asking again would not change that."""
    with _lock:
        return _state["ready"] is False


def reset() -> None:
    """Forget NVML's state (tests install a fake module)."""
    with _lock:
        _state["ready"] = None
