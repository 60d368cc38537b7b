"""The page's own CSS, JS and icon, served from /static with a content hash in their URLs.

The hash lets browsers keep a file for a year and still fetch a new release's
files at once; nothing is ever loaded from another site. Only the files found
here at start are served, so no request path ever reaches the filesystem.
"""

import hashlib
import mimetypes
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


class StaticAssets:
    def __init__(self, folder: Path = STATIC_DIR) -> None:
        self._files = {path.name: path for path in folder.iterdir() if path.is_file()}
        self._hashes = {name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for name, path in self._files.items()}

    def url(self, name: str) -> str:
        """`/static/<name>?v=<hash>`; a name that is not a file here is a bug in the template."""
        return f"/static/{name}?v={self._hashes[name]}"

    def find(self, name: str) -> Path | None:
        return self._files.get(name)

    def is_current(self, name: str, version: str | None) -> bool:
        return version == self._hashes.get(name)

    @staticmethod
    def media_type(path: Path) -> str:
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
