"""`python -m sentiment_devtools.lockfiles [--check]`: write every service's requirements.lock with uv,
or only say which are stale."""

import argparse
import sys
from pathlib import Path

from sentiment_devtools.lockfiles import LOCK_NAME, LockError, compile_lock, stale_reasons, uv_executable
from sentiment_devtools.system import SERVICES


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.lockfiles", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which lock files are stale, and why (offline)")
    parser.add_argument("--root", type=Path, default=Path())
    arguments = parser.parse_args()
    if arguments.check:
        reasons = [reason for service in SERVICES for reason in stale_reasons(arguments.root, service)]
        for reason in reasons:
            print(f"lockfiles: stale: {reason}", file=sys.stderr)
        return 1 if reasons else 0
    for service in SERVICES:
        path = arguments.root / service / LOCK_NAME
        try:
            lock = compile_lock(arguments.root, service, uv_executable())
        except LockError as error:
            print(f"lockfiles: {error}", file=sys.stderr)
            return 1
        if not path.exists() or path.read_text() != lock:
            path.write_text(lock)
            print(f"lockfiles: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
