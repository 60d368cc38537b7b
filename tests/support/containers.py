"""The services' images as real containers on 127.0.0.1, run as the Kubernetes manifests run their pods.

podman with the host's network (the only kind these machines allow): each
container listens on its own free port. Like the pods: the image's own user, a
read-only root filesystem with a tmpfs on /tmp and volumes where the service
keeps data, every capability dropped, no privilege escalation.
"""

import os
import time
import uuid
from pathlib import Path

import httpx
from sentiment_devtools.images.podman import Podman

from support.services import free_port
from support.waiting import STARTUP_SECONDS, wait_until

IMAGE_USER = 10001  # the Dockerfiles' USER, which the manifests' runAsUser repeats
# What the image tests timed, for their summary: {what: seconds}.
TIMINGS: dict[str, float] = {}


def volume(path: Path) -> Path:
    """A folder for a data volume, owned by the image's user as the deployment docs ask of a hostPath volume."""
    path.mkdir()
    os.chown(path, IMAGE_USER, IMAGE_USER)
    return path


def run_unhardened(podman: Podman, image: str, *command: str) -> tuple[int, str]:
    """`command` in a fresh container of `image` with none of the pods' hardening (no --read-only, --cap-drop,
    no-new-privileges, --user): what it shows is the image's own doing. Its exit code and output."""
    result = podman.run(
        "run", "--rm", "--network", "host", "--health-interval", "disable", image, *command,
        check=False, timeout=STARTUP_SECONDS,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


class Container:
    def __init__(
        self,
        podman: Podman,
        image: str,
        env: dict[str, str],
        volumes: dict[Path, str],
        port: int | None = None,
        command: tuple[str, ...] = (),
    ) -> None:
        """Start `image` (its CMD, or `command`); volumes maps a host folder to `/path/in/container` (or `/path:ro`)."""
        self._podman = podman
        self.image = image
        self.name = f"sentiment-test-{uuid.uuid4().hex[:12]}"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {**env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        podman.run(
            "run", "--detach", "--name", self.name, "--network", "host",
            "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777,size=64m",
            "--cap-drop", "all", "--security-opt", "no-new-privileges",
            "--health-interval", "disable",  # no systemd here to run it on a timer; `healthcheck()` runs it once
            *(argument for name, value in settings.items() for argument in ("--env", f"{name}={value}")),
            *(argument for host, inside in volumes.items() for argument in ("--volume", f"{host}:{inside}")),
            image, *command,
        )  # fmt: skip
        self.started = time.monotonic()

    def wait_until(self, path: str, status: int = 200, timeout: float = STARTUP_SECONDS) -> float:
        """Seconds from the start until `path` answers `status`; fails at once, with the log, if it exits."""

        def answer() -> httpx.Response:
            if self._inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"{self.image} exited:\n{self.logs()}")
            return httpx.get(self.url + path, timeout=2.0)

        wait_until(
            answer,
            lambda response: response.status_code == status,
            what=f"{self.image} {path} to answer {status}",
            timeout=max(0.0, self.started + timeout - time.monotonic()),
            ignoring=(httpx.TransportError,),
            context=lambda: f"log:\n{self.logs()}",
            describe=lambda response: f"{response.status_code} {response.text}",
        )
        return time.monotonic() - self.started

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        """Until the container's output holds `text`; fails with its log if it exits first or past the deadline."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.logs()):
            if self._inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"{self.image} exited before saying {text!r}:\n{log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.image} did not say {text!r} within {timeout:.0f} s:\n{log}")
            time.sleep(0.1)

    def wait_for_exit(self, timeout: float) -> int:
        """The exit code of a one-shot container once it has stopped; fails with its log past the deadline."""
        deadline = time.monotonic() + timeout
        while self._inspect("{{.State.Running}}") == "true":
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.image} still runs after {timeout:.0f} s:\n{self.logs()}")
            time.sleep(0.2)
        return int(self._inspect("{{.State.ExitCode}}"))

    def logs(self) -> str:
        result = self._podman.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> tuple[int, str]:
        """Run a command inside, as the image's user: its exit code and output."""
        result = self._podman.run("exec", self.name, *command, check=False)
        return result.returncode, result.stdout + result.stderr

    def healthcheck(self) -> int:
        """The exit code of the image's own HEALTHCHECK command, run once."""
        return self._podman.run("healthcheck", "run", self.name, check=False).returncode

    def process_status(self) -> dict[str, str]:
        """/proc/<pid>/status of the service's process as the host's kernel sees it: its real uid, not a claim."""
        lines = Path(f"/proc/{self._inspect('{{.State.Pid}}')}/status").read_text().splitlines()
        return dict(line.split(":\t", 1) for line in lines if ":\t" in line)

    def _inspect(self, template: str) -> str:
        return self._podman.run("container", "inspect", "--format", template, self.name).stdout.strip()

    def remove(self) -> None:
        self._podman.run("rm", "--force", "--time", "5", self.name, check=False)
