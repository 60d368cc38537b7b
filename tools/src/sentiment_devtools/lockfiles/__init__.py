"""Per-service `requirements.lock`: every package a service's image installs, each with the sha256 of every file
PyPI has for it, at the versions constraints.txt pins.

uv resolves them (`uv pip compile --generate-hashes`, for Linux and Python 3.11 as in the images; the hashes
cover every file of a version, so the arm64 wheels too) from the service's requirements (and the extras its
image needs: `[tool.lockfiles] image-extras` in its pyproject.toml), the service kit's (libs/service-kit), and
their build backend, with constraints.txt as constraints: the images hold exactly the versions the tests ran
with. The images install a lock with `pip install --require-hashes`, then the kit and the service, our own
source, with --no-deps (pip cannot hash a folder). `make locks` writes the locks (uv asks PyPI);
`python -m sentiment_devtools.lockfiles --check` says which are stale, and why, asking no one.

A lock is stale when it was not written from the requirements there are now, or when it pins a version other
than constraints.txt's: the requirements it was written from are listed in its header, the pins are its own
lines, so the check reads only the repository, never the virtualenv it runs in.
"""

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sentiment_devtools.system import SERVICE_KIT

LOCK_NAME = "requirements.lock"
INPUT_PREFIX = "#   "  # the header's lines that list the requirements the lock was written from
# As in the images: Linux, Debian bookworm's Python 3.11.
UV_TARGET = ("--python-version", "3.11", "--python-platform", "linux")
# uv's own configuration files and TLS: the system's certificates (where a proxy inspects TLS, its CA is there).
UV_OPTIONS = ("--no-config", "--native-tls", "--generate-hashes", "--no-header", "--no-annotate", "--quiet")


class LockError(Exception):
    """uv could not write a lock; its message says why."""


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())


def _name(folder: Path) -> str:
    return canonicalize_name(_project(folder)["project"]["name"])


def requirements(root: Path, service: str) -> list[str]:
    """What the service's image installs, before resolution: its requirements and its image extras', the kit's,
    and the build backend of both; the kit itself is our own source, installed apart."""
    kit = _name(root / SERVICE_KIT)
    lines: set[str] = set()
    for folder, extras in ((root / SERVICE_KIT, []), (root / service, None)):
        pyproject = _project(folder)
        project = pyproject["project"]
        if extras is None:
            extras = pyproject.get("tool", {}).get("lockfiles", {}).get("image-extras", [])
        optional = project.get("optional-dependencies", {})
        lines.update(project["dependencies"], pyproject["build-system"]["requires"])
        lines.update(line for extra in extras for line in optional[extra])
    return sorted((str(Requirement(line)) for line in lines if canonicalize_name(Requirement(line).name) != kit),
                  key=str.lower)  # fmt: skip


def read_pins(constraints: Path) -> dict[str, str]:
    """Canonical name -> version, from lines `name==version`."""
    pins = {}
    for line in constraints.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def header(service: str, inputs: list[str]) -> str:
    return (
        f"# Every package the {service} image installs, with the sha256 of each of its files on PyPI: pip\n"
        "# installs them with --require-hashes. Written by `make locks` (uv pip compile --generate-hashes)\n"
        "# at the versions constraints.txt pins, from these requirements (the service's, its image extras', the\n"
        "# service kit's and their build backend); change pins in pyproject.toml and constraints.txt, never here.\n"
        + "".join(f"{INPUT_PREFIX}{line}\n" for line in inputs)
    )


def compile_lock(root: Path, service: str, uv: Path) -> str:
    inputs = requirements(root, service)
    with tempfile.NamedTemporaryFile("w", suffix=".in") as listed:
        listed.write("".join(f"{line}\n" for line in inputs))
        listed.flush()
        command = [str(uv), "pip", "compile", listed.name, "-c", str(root / "constraints.txt"), *UV_TARGET, *UV_OPTIONS]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=os.environ)
    if result.returncode != 0:
        raise LockError(f"{service}: uv pip compile failed:\n{result.stderr.strip()}")
    return header(service, inputs) + result.stdout


def uv_executable() -> Path:
    """The uv of this virtualenv (requirements-dev.txt pins it)."""
    return Path(sys.executable).parent / "uv"


def stale_reasons(root: Path, service: str) -> list[str]:
    """Why the service's lock is stale, or nothing when it is not."""
    path = root / service / LOCK_NAME
    if not path.exists():
        return [f"{path} does not exist"]
    text = path.read_text()
    reasons = []
    written_from = [line.removeprefix(INPUT_PREFIX) for line in text.splitlines() if line.startswith(INPUT_PREFIX)]
    if written_from != requirements(root, service):
        reasons.append(f"{path} was written from other requirements than {service}'s and the kit's now")
    constraints = read_pins(root / "constraints.txt")
    inputs = {canonicalize_name(Requirement(line).name): Requirement(line) for line in requirements(root, service)}
    for name, version in read_pins(path).items():
        if name in constraints and constraints[name] != version:
            reasons.append(f"{path} pins {name}=={version}, constraints.txt {name}=={constraints[name]}")
        elif name not in constraints and not (name in inputs and inputs[name].specifier.contains(version)):
            reasons.append(f"{path} pins {name}=={version}, which constraints.txt does not pin")
    for block in re.split(r"\n(?=\S)", text):
        if re.match(r"[A-Za-z0-9]", block) and "--hash=sha256:" not in block:
            reasons.append(f"{path}: {block.split()[0]} has no hash")
    return reasons
