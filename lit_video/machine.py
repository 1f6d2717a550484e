"""What a measured figure was measured on: the CPU, the device, the software versions and the commit; and the
processes lit-video starts on it dying with their parent (``die_with_parent``).

Every speed figure is stamped with these, made in one place: benchmarks, ``lit-video profile`` and the sweep's
results rows all name the same machine the same way.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (a cpuset: SLURM's, a container's, taskset's), which
    ``os.cpu_count`` ignores; every core where the system cannot say."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def load_per_core() -> float | None:
    """The 1-minute load average per usable core: about 1 where every core is busy; None where the system does not
    say (Windows). A busy machine slows what is timed on it."""
    try:
        return os.getloadavg()[0] / usable_cores()
    except (AttributeError, OSError):
        return None


def default_precision(accelerator: str = "auto") -> str:
    """The Trainer precision a run takes where its config sets none: bf16 autocast (``bf16-mixed``) on a GPU that has
    bf16 (Ampere and newer), where it is about twice as fast as float32 at the same accuracy for these networks;
    ``32-true`` elsewhere (a CPU without AVX-512 BF16 runs bf16 matmuls a hundred times slower)."""
    cuda = accelerator_device(accelerator).type == "cuda"
    return "bf16-mixed" if cuda and torch.cuda.is_bf16_supported() else "32-true"


def accelerator_device(accelerator: str = "auto") -> torch.device:
    """The device a Trainer ``accelerator`` setting runs on: CUDA for ``auto``, ``gpu`` or ``cuda`` where a
    GPU is available, else the CPU."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def device_name(device: str | torch.device) -> str:
    """``cuda: <GPU name>``, or ``cpu: <CPU name>, N threads`` (a CPU's speed depends on torch's threads)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_name()}, {torch.get_num_threads()} threads"


def machine_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The CPU, its cores, torch's threads and version, and the device (``cpu`` or the GPU's name)."""
    device = torch.device(device)
    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": "cpu"}
    if device.type == "cuda":
        info["device"] = torch.cuda.get_device_name(device)
    return info


def versions() -> dict[str, Any]:
    """The versions of lit-video and of what its figures depend on."""
    import lightning
    import torchvision

    import lit_video

    return {"lit_video": lit_video.__version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "lightning": lightning.__version__,
            "cuda": torch.version.cuda, "python": platform.python_version()}


def git_sha(repo: str | Path | None = None) -> str | None:
    """The commit of the lit-video checkout (``-dirty`` when tracked files differ), or None outside git."""
    repo = Path(repo) if repo else Path(__file__).resolve().parents[1]  # lit_video/machine.py -> the checkout
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def die_with_parent(parent_pid: int) -> None:
    """Have Linux kill this process when its parent dies (``PR_SET_PDEATHSIG``): a sweep's entries and the flow
    cache's workers, whose parent may be killed with SIGKILL and so cannot take them down itself, would otherwise
    run on, or wait for ever for work. Where the parent ``parent_pid`` died before this call (the signal comes only
    for a death after it), this process ends now. Elsewhere than Linux it does nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:
        os._exit(1)  # nothing here to clean up: the process has not started its work
