"""Makes sure a model release exists locally, training one when it does not.

Order of preference: the cached release; a release trained on DATA when the
user names a file; one trained on the pinned public data; and, when that is
out of reach (no internet), a demo model from the built-in synthetic corpus,
announced loudly, because its verdicts are not to be trusted.
"""

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEMO_SUFFIX = "-demo"


@dataclass(frozen=True)
class LocalRelease:
    folder: Path
    version: str
    sha256: str

    @property
    def url_template(self) -> str:
        return f"file://{self.folder.resolve()}/{{version}}/{{asset}}"


def ensure_release(folder: Path, version: str, data: Path | None) -> LocalRelease:
    if data is not None:
        if _manifest(folder, version).get("data_sha256") != hashlib.sha256(data.read_bytes()).hexdigest():
            _train(folder, version, ["--data", str(data)])
        return _release(folder, version)
    for candidate in (version, version + DEMO_SUFFIX):
        if _manifest(folder, candidate):
            return _release(folder, candidate)
    print(f"stack: no model release {version} yet; training one on the public data", flush=True)
    if _train(folder, version, [], check=False) == 0:
        return _release(folder, version)
    demo = version + DEMO_SUFFIX
    print(
        "\n*** The public training data is out of reach: training a DEMO model on a tiny synthetic corpus.\n"
        "*** Its verdicts are not meaningful. Give real data with `make run DATA=path/to/reviews.tsv`.\n",
        flush=True,
    )
    _train(folder, demo, ["--demo"])
    return _release(folder, demo)


def _train(folder: Path, version: str, source: list[str], check: bool = True) -> int:
    command = [sys.executable, "-m", "model_service", "train", "--version", version, "--out", str(folder), *source]
    return subprocess.run([*command, "--replace"], check=check).returncode


def _manifest(folder: Path, version: str) -> dict:
    path = folder / version / "model.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _release(folder: Path, version: str) -> LocalRelease:
    return LocalRelease(folder=folder, version=version, sha256=_manifest(folder, version)["sha256"])
