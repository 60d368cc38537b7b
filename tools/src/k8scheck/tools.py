"""The Prometheus and Alertmanager command-line tools the checks run."""

import shutil
import subprocess
from pathlib import Path

# Debian package of each tool; `make system-deps` installs them.
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


class ToolMissing(Exception):
    pass


def run_tool(tool: str, *args: str | Path) -> subprocess.CompletedProcess:
    executable = shutil.which(tool)
    if executable is None:
        raise ToolMissing(f"{tool} not found: install the Debian package {PACKAGES[tool]} (`make system-deps`)")
    return subprocess.run([executable, *map(str, args)], capture_output=True, text=True, check=False)
