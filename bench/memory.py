"""Peak resident memory of a process and its children, from the kernel's own high-water mark."""

from pathlib import Path


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
