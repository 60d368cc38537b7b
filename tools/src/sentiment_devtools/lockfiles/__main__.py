"""`python -m sentiment_devtools.lockfiles [--check]`: write (or check) every service's requirements.lock."""

import argparse
import sys
from pathlib import Path

from sentiment_devtools.lockfiles import LOCK_NAME, LockError, read_pins, render_lock
from sentiment_devtools.system import SERVICES


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.lockfiles", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which lock files are stale")
    parser.add_argument("--root", type=Path, default=Path())
    arguments = parser.parse_args()
    pins = read_pins(arguments.root / "constraints.txt")
    stale = []
    for service in SERVICES:
        path = arguments.root / service / LOCK_NAME
        try:
            lock = render_lock(arguments.root / service, pins)
        except LockError as error:
            print(f"lockfiles: {error}", file=sys.stderr)
            return 1
        if path.exists() and path.read_text() == lock:
            continue
        stale.append(str(path))
        if not arguments.check:
            path.write_text(lock)
    if stale:
        print(f"lockfiles: {'stale' if arguments.check else 'wrote'}: {', '.join(stale)}", file=sys.stderr)
    return 1 if stale and arguments.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
