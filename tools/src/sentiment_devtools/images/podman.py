"""The podman command line, set up for this kind of machine by the containers.conf beside this file."""

import os
import subprocess
from pathlib import Path

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
# Debian packages podman needs here, as root with host networking (`make images` installs them).
PACKAGES = ("podman", "runc", "debootstrap")
# A build installs its packages from PyPI: minutes on a slow mirror, never forever.
BUILD_TIMEOUT_SECONDS = 1800


class PodmanError(Exception):
    pass


class Podman:
    def __init__(self, executable: str = "podman") -> None:
        self._executable = executable

    def run(self, *args: str | Path, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run `podman ARGS`; a failure raises PodmanError with the end of its output."""
        command = [self._executable, *map(str, args)]
        env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise PodmanError(
                f"{self._executable} not found: install the Debian packages {' '.join(PACKAGES)} (`make images`)"
            ) from None
        except subprocess.TimeoutExpired:
            raise PodmanError(f"podman {' '.join(command[1:3])} ... took over {timeout:.0f} s; stopped") from None
        if check and result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            tail = "\n".join(output[-40:])
            raise PodmanError(f"podman {' '.join(command[1:3])} ... failed ({result.returncode}):\n{tail}")
        return result

    def image_exists(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    def image_label(self, name: str, label: str) -> str | None:
        value = self.run("image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', name).stdout.strip()
        return value if value and value != "<no value>" else None

    def image_size(self, name: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", name).stdout)

    def build(self, tag: str, context: Path, named_contexts: dict[str, Path]) -> None:
        """Build the Dockerfile in `context`, with the `named_contexts` its `COPY --from=<name>` reads: its
        HEALTHCHECK kept (docker format), base images never pulled."""
        named = [part for name, path in named_contexts.items() for part in ("--build-context", f"{name}={path}")]
        self.run(
            "build", "--format", "docker", "--pull=never", "--network", "host", *named, "--tag", tag, context,
            timeout=BUILD_TIMEOUT_SECONDS,
        )  # fmt: skip
