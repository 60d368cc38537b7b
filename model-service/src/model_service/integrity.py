"""SHA-256 digests: how every downloaded or released byte is checked."""

import hashlib
import re
from pathlib import Path

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_CHUNK_BYTES = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
