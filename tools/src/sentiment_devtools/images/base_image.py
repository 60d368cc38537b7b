"""The base image every Dockerfile names, made here when no registry is reachable.

The official python:3.11-slim-bookworm is Debian bookworm with Python 3.11 in
/usr/local. The stand-in is Debian bookworm's minimal system with Debian's own
Python 3.11 in /usr/bin: what the Dockerfiles rely on is the same (`python` on
PATH with venv and pip, `useradd`, a glibc the wheels run on), so they build
unchanged. It carries this machine's CA bundle, because pip reaches PyPI through
a TLS-inspecting proxy here: an adaptation of the stand-in to this machine,
which the official image does not need.

The rootfs tarball is cached under the state folder, named by a digest of its
recipe, and imported only when podman lacks the image; an image of that name
from a registry (no recipe label) is used as it is.
"""

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sentiment_devtools.images.podman import Podman

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3.11", "python3-venv", "python-is-python3", "ca-certificates")
# Emptied after debootstrap: nothing in them is needed at build or run time.
TRIMMED = ("var/lib/apt/lists", "var/cache/apt", "var/log", "usr/share/doc", "usr/share/man", "usr/share/info",
           "usr/share/locale")  # fmt: skip
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# As the official image sets them.
CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
RECIPE_LABEL = "org.sentiment-canary.base-recipe"


def base_image_name(dockerfiles: list[Path]) -> str:
    """The one image every stage of every Dockerfile starts FROM, fully qualified as podman wants it."""
    names = {name for path in dockerfiles for name in re.findall(r"^FROM (\S+)", path.read_text(), re.MULTILINE)}
    if len(names) != 1:
        raise ValueError(f"the Dockerfiles start from {sorted(names)}; the images tool makes exactly one base image")
    (name,) = names
    return name if "/" in name else f"docker.io/library/{name}"


def recipe_digest() -> str:
    """Names the rootfs: changes with anything that goes into it, the CA bundle included."""
    recipe = {
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": PACKAGES,
        "trimmed": TRIMMED,
        "changes": CHANGES,
        "ca_bundle": hashlib.sha256(HOST_CA_BUNDLE.read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def ensure_base_image(podman: Podman, name: str, cache_dir: Path) -> str:
    """Make `name` exist in podman; says what it did: "present", "imported" or "bootstrapped"."""
    digest = recipe_digest()
    if podman.image_exists(name) and podman.image_label(name, RECIPE_LABEL) in (None, digest):
        return "present"
    tarball = cache_dir / f"python-3.11-{SUITE}-{digest}.tar"
    done = "imported"
    if not tarball.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        for stale in cache_dir.glob(f"python-3.11-{SUITE}-*.tar"):
            stale.unlink()
        bootstrap_rootfs_tarball(tarball)
        done = "bootstrapped"
    changes = [argument for change in (*CHANGES, f"LABEL {RECIPE_LABEL}={digest}") for argument in ("--change", change)]
    podman.run("import", *changes, tarball, name)
    return done


def bootstrap_rootfs_tarball(tarball: Path) -> None:
    """debootstrap a minimal bookworm with Python 3.11, trim it, and pack it into `tarball` (atomically)."""
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR]
        if shutil.which("debootstrap") is None:
            raise RuntimeError("debootstrap not found: install the Debian package debootstrap (`make images` does)")
        try:  # it downloads a few hundred packages from the Debian mirror: minutes, never forever
            result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
        except subprocess.TimeoutExpired:
            raise RuntimeError("debootstrap took over 30 minutes; stopped (is the Debian mirror reachable?)") from None
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr}")
        for folder in TRIMMED:
            _empty(rootfs / folder)
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        partial = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def _empty(folder: Path) -> None:
    for child in folder.iterdir() if folder.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
