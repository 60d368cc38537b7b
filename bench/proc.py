"""What the kernel counts for a process: CPU time used, and peak resident memory.

CPU time per request shows where the time goes and what two cores can carry.
It survives a busy machine better than latency does (other processes delay
ours far more than they slow them down), but not entirely: on this shared
2-core machine it grows by up to 2-4x under heavy load (caches, the hyperthread
sibling), so compare it within one run, as the ratios are.
"""

import os
import resource
import socket
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def tree_cpu_seconds(pid: int) -> float:
    """The CPU time of the process and of its children alive now (PostgreSQL's backends, one per connection)."""
    total = cpu_seconds(pid)
    for child in _children(pid):
        try:
            total += tree_cpu_seconds(child)
        except FileNotFoundError:  # exited meanwhile
            continue
    return total


def cpu_seconds_by_name(pids: dict[str, int]) -> dict[str, float]:
    """The CPU time of each named process tree so far, and as "wrk" that of this process's finished children
    (each wrk run, once waited for)."""
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items()} | {"wrk": _children_cpu_seconds()}


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib(pid: int) -> float:
    """VmHWM of the process plus that of each child (uvicorn's workers, if any): an upper bound."""
    total_kib = _vm_hwm_kib(pid)
    for child in _children(pid):
        total_kib += _vm_hwm_kib(child)
    return total_kib / 1024


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
