"""python -m sentiment_devtools.images [SERVICE ...]: build the services' images with podman, print what it took."""

import argparse
import sys
import time
from pathlib import Path

from sentiment_devtools.images.base_image import base_image_name, ensure_base_image
from sentiment_devtools.images.podman import Podman, PodmanError
from sentiment_devtools.system import SERVICE_KIT, SERVICES  # the services with an image, the kit each installs


def image_name(service: str) -> str:
    """The tag of a service's image built here, as docker-compose.yml names it (podman wants `localhost/`)."""
    return f"localhost/sentiment-canary/{service}:local"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.images", description=__doc__)
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=f"some of {', '.join(SERVICES)} (default: all)")
    parser.add_argument("--root", type=Path, default=Path(), help="the monorepo (default: here)")
    parser.add_argument("--state-dir", type=Path, default=Path("var"), help="where the base rootfs is cached")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.services) - set(SERVICES)):
        parser.error(f"no such service: {', '.join(unknown)}")

    podman = Podman()
    try:
        started = time.monotonic()
        base = base_image_name([args.root / service / "Dockerfile" for service in SERVICES])
        how = ensure_base_image(podman, base, args.state_dir / "images")
        print(f"localimages: base {base}: {how} in {time.monotonic() - started:.1f} s", flush=True)
        rows = []
        for service in args.services or SERVICES:
            name, started = image_name(service), time.monotonic()
            podman.build(name, args.root / service, {"service-kit": args.root / SERVICE_KIT})
            seconds = time.monotonic() - started
            rows.append((name, seconds, podman.image_size(name)))
            print(f"localimages: built {name} in {seconds:.1f} s", flush=True)
    except (PodmanError, RuntimeError, ValueError) as error:
        print(f"localimages: {error}", file=sys.stderr)
        return 1
    print(f"\n  {'image':<48} {'build s':>8} {'size MB':>8}")
    for name, seconds, size in rows:
        print(f"  {name:<48} {seconds:>8.1f} {size / 1e6:>8.1f}")
    return 0
