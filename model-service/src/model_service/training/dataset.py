"""Labelled reviews in the training TSV format: header `Review<TAB>Liked`, 1 = positive.

Lines whose review contains a double quote are CSV-quoted, so the file is read
with the `csv` module, never split on tabs by hand.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import httpx

from model_service.integrity import sha256_bytes

# The public training data: the raw file the course projects downloaded.
DEFAULT_DATA_URL = (
    "https://raw.githubusercontent.com/proksch/restaurant-sentiment/main/a1_RestaurantReviews_HistoricDump.tsv"
)
DEFAULT_DATA_SHA256 = "8ae95d7aa9af21bf8dc2ce12def3519ba16127c1bc25328f9426264203824e69"

COLUMNS = ("Review", "Liked")
_DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DatasetError(Exception):
    """The training data could not be read, or is not what was pinned."""


@dataclass(frozen=True)
class Dataset:
    reviews: list[str]
    labels: list[int]
    sha256: str
    source: str


def load_dataset(source: str, expected_sha256: str | None = None) -> Dataset:
    """Read a local path or download an http(s) URL; a URL must come with a pin."""
    if source.startswith(("http://", "https://")):
        if expected_sha256 is None:
            raise DatasetError(f"{source}: a downloaded data set needs --data-sha256")
        data = _download(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise DatasetError(f"{source}: cannot read ({error.strerror})") from error
    digest = sha256_bytes(data)
    if expected_sha256 is not None and digest != expected_sha256:
        raise DatasetError(f"{source}: sha256 is {digest}, expected {expected_sha256}")
    reviews, labels = parse_tsv(data, source)
    return Dataset(reviews=reviews, labels=labels, sha256=digest, source=source)


def _download(url: str) -> bytes:
    try:
        response = httpx.get(url, follow_redirects=True, timeout=_DOWNLOAD_TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise DatasetError(f"{url}: download failed ({error})") from error
    return response.content


def parse_tsv(data: bytes, source: str = "<data>") -> tuple[list[str], list[int]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{source}: not UTF-8 ({error.reason} at byte {error.start})") from None
    rows = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header = next(rows, None)
    if header is None or tuple(header[:2]) != COLUMNS:
        raise DatasetError(f"{source}: the header must be 'Review<TAB>Liked', found {header!r}")
    reviews: list[str] = []
    labels: list[int] = []
    for line_number, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != 2 or row[1] not in ("0", "1"):
            raise DatasetError(f"{source}:{line_number}: expected 'review<TAB>0|1', found {row!r}")
        reviews.append(row[0])
        labels.append(int(row[1]))
    if len(set(labels)) < 2:
        raise DatasetError(f"{source}: needs both positive and negative reviews")
    return reviews, labels


def format_tsv(reviews: list[str], labels: list[int]) -> str:
    """Write reviews in exactly the format `parse_tsv` reads (and the public file uses)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(zip(reviews, labels, strict=True))
    return buffer.getvalue()
