"""Download the Kubernetes project's Pod Security conformance fixtures, pinned: `python -m
sentiment_devtools.checks.fetch_fixtures --out DIR`.

For a machine without ../shared/data/pod-security-fixtures (`make` calls it
when POD_SECURITY_FIXTURES_DIR does not exist, as on a fork's CI): the
`restricted` fixtures of the supported releases, from the source archive of
kubernetes/pod-security-admission at a fixed revision, in the layout of the
shared folder, restricted/<release>/{pass,fail}/<name>.yaml. What is trusted is
one sha256 over their listing (`sha256sum` of every file, in sorted order, as
`listing_digest` computes it over the shared folder): a fixture changed, added
or missing upstream fails the fetch, and nothing is written. DIR is replaced whole.
"""

import argparse
import hashlib
import io
import sys
import tarfile
from pathlib import Path, PurePosixPath

import httpx

from sentiment_devtools.checks.fetch_schemas import (
    CONNECT_SECONDS,
    READ_SECONDS,
    FetchError,
    download_bytes,
    replace_folder,
)

CODELOAD = "https://codeload.github.com"
REPOSITORY = "kubernetes/pod-security-admission"
# The revision ../shared/data/pod-security-fixtures/README.md names (2026-07-01).
REVISION = "8f84a87"
UPSTREAM_FOLDER = PurePosixPath("test/testdata/restricted")
RELEASES = ("v1.33", "v1.37")
LISTING_SHA256 = "cfd8435f2a8432b614ca1d6ac8363eda970d64d122a091aaf00e5dc86441ba09"
# The repository's whole source archive is a few megabytes.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024


def archive_url(base_url: str = CODELOAD) -> str:
    return f"{base_url}/{REPOSITORY}/tar.gz/{REVISION}"


def listing_digest(files: dict[str, bytes]) -> str:
    """sha256 of `sha256sum` over the files ("restricted/v1.33/pass/base.yaml": content), in sorted order."""
    listing = "".join(f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def shared_files(folder: Path) -> dict[str, bytes]:
    """The fixtures of a folder in the shared layout, by their path in it."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for release in RELEASES
        for path in sorted((folder / "restricted" / release).glob("*/*.yaml"))
    }


def extract(archive: bytes, url: str) -> dict[str, bytes]:
    """The fixtures of the supported releases in a source archive, by their path in the shared layout."""
    files = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                # <repository>-<revision>/test/testdata/restricted/<release>/<pass|fail>/<name>.yaml
                path = PurePosixPath(*PurePosixPath(member.name).parts[1:])
                if not member.isfile() or path.suffix != ".yaml" or path.parent.parent.parent != UPSTREAM_FOLDER:
                    continue
                release, verdict = path.parts[-3], path.parts[-2]
                if release in RELEASES and verdict in ("pass", "fail"):
                    files[f"restricted/{release}/{verdict}/{path.name}"] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FetchError(f"{url} is not a gzipped tar archive: {error}") from None
    digest = listing_digest(files)
    if digest != LISTING_SHA256:
        raise FetchError(
            f"{url}: its {len(files)} fixtures of {', '.join(RELEASES)} have the listing sha256 {digest}, "
            f"pinned {LISTING_SHA256}"
        )
    return files


def fetch(out: Path, base_url: str = CODELOAD, timeout: httpx.Timeout | None = None) -> int:
    """Download, extract and check the fixtures, then replace `out` with them; their number."""
    url = archive_url(base_url)
    timeout = timeout or httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS)
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        files = extract(download_bytes(client, url, MAX_ARCHIVE_BYTES), url)
    replace_folder(out, files, {"url": url, "releases": list(RELEASES), "listing_sha256": LISTING_SHA256})
    return len(files)


def main(argv: list[str] | None = None, base_url: str = CODELOAD) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.checks.fetch_fixtures", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced whole)")
    args = parser.parse_args(argv)
    try:
        count = fetch(args.out, base_url)
    except FetchError as error:
        print(f"fetch_fixtures: {error}", file=sys.stderr)
        return 2
    print(f"fetch_fixtures: {count} Pod Security fixtures ({', '.join(RELEASES)}) from {archive_url(base_url)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
