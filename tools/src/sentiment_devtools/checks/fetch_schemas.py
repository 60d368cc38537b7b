"""Download the pinned upstream CRD bundles and extract their schemas: `python -m
sentiment_devtools.checks.fetch_schemas --out DIR`.

For a machine without ../shared/schemas (`make` calls it when K8S_SCHEMAS_DIR
does not exist): every CRD version's `openAPIV3Schema`, as JSON, in the
layout the checks read, <group>/<kind lowercased>_<version>.json, checked
against the sha256 pinned in `sentiment_devtools.checks.schema_sources`. Nothing is written
unless every pinned schema was found and matched; DIR is replaced whole.
Hand-written because kubeconform's schema tools are Go and make per-kind
JSON-schema files of another shape; this is a download and a loop.
"""

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

from sentiment_devtools.checks.schema_sources import RAW_GITHUB, SCHEMA_SETS, Bundle, SchemaSet

# Istio's bundle of every CRD is under 1 MB, CloudNativePG's Cluster under 2 MB.
MAX_BUNDLE_BYTES = 32 * 1024 * 1024
CONNECT_SECONDS = 15.0
READ_SECONDS = 60.0
# A whole download, however slowly its bytes trickle in.
DOWNLOAD_SECONDS = 300.0
# Written beside the schemas: what they came from (and make's sign that a fetch finished).
SOURCES_FILE = "SOURCES.json"
# Parsing a megabyte of YAML takes seconds in pure Python, a fraction with libyaml.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FetchError(Exception):
    pass


def schema_bytes(schema: dict) -> bytes:
    """A schema as the file holds it, and as its pin hashes it."""
    return json.dumps(schema, indent=1, sort_keys=True).encode()


def crd_schemas(bundle_text: str) -> Iterator[tuple[str, dict]]:
    """("<group>/<kind lowercased>_<version>.json", openAPIV3Schema) for every CRD version in a YAML bundle."""
    for document in yaml.load_all(bundle_text, Loader=YAML_LOADER):
        if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        for version in spec.get("versions", []):
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if schema is not None:
                yield f"{spec['group']}/{spec['names']['kind'].lower()}_{version['name']}.json", schema


def download(client: httpx.Client, url: str, max_bytes: int = MAX_BUNDLE_BYTES) -> str:
    try:
        return download_bytes(client, url, max_bytes).decode()
    except UnicodeDecodeError:
        raise FetchError(f"{url} is not UTF-8 text") from None


def download_bytes(client: httpx.Client, url: str, max_bytes: int = MAX_BUNDLE_BYTES) -> bytes:
    """The body of a 200 answer, within `max_bytes` and DOWNLOAD_SECONDS; FetchError says what went wrong."""
    deadline = time.monotonic() + DOWNLOAD_SECONDS
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered {response.status_code} {response.reason_phrase}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} is over {max_bytes} bytes; stopped")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url} took over {DOWNLOAD_SECONDS:.0f} s; stopped")
    except httpx.TimeoutException as error:
        raise FetchError(f"{url} timed out ({type(error).__name__}): is GitHub reachable from here?") from None
    except httpx.HTTPError as error:
        raise FetchError(f"could not download {url}: {error}") from None
    return bytes(body)


def extract(bundle: Bundle, text: str, url: str) -> dict[str, bytes]:
    """The bundle's pinned schemas as file bytes; FetchError names every one missing or different."""
    try:
        found = {name: schema_bytes(schema) for name, schema in crd_schemas(text) if name in bundle.schemas}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise FetchError(f"{url} is not a bundle of CustomResourceDefinitions: {error}") from None
    problems = [f"{url} has no {name}" for name in sorted(set(bundle.schemas) - set(found))]
    for name, content in sorted(found.items()):
        digest = hashlib.sha256(content).hexdigest()
        if digest != bundle.schemas[name]:
            problems.append(f"{url}: {name} has sha256 {digest}, pinned {bundle.schemas[name]}")
    if problems:
        raise FetchError("the upstream schemas are not the pinned ones:\n  " + "\n  ".join(problems))
    return found


def fetch(
    schema_set: SchemaSet,
    out: Path,
    base_url: str = RAW_GITHUB,
    timeout: httpx.Timeout | None = None,
    max_bytes: int = MAX_BUNDLE_BYTES,
) -> int:
    """Download, extract and check every bundle of the set, then replace `out` with the schemas; their number."""
    timeout = timeout or httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS)
    files: dict[str, bytes] = {}
    sources = []
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for bundle in schema_set.bundles:
            url = bundle.url(base_url)
            files |= extract(bundle, download(client, url, max_bytes), url)
            sources.append({"url": url, "schemas": sorted(bundle.schemas)})
    replace_folder(out, files, {"set": schema_set.name, "description": schema_set.description, "sources": sources})
    return len(files)


def replace_folder(out: Path, files: dict[str, bytes], sources: dict) -> None:
    """Write `files` (relative paths) and SOURCES_FILE into a staging folder beside `out`, then put it in its place:
    `out` holds either all of them, checked, or what it held before."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as work:
        staged = Path(work) / out.name
        for name, content in files.items():
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            (staged / name).write_bytes(content)
        (staged / SOURCES_FILE).write_text(json.dumps(sources, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)


def main(argv: list[str] | None = None, base_url: str = RAW_GITHUB) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.checks.fetch_schemas", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced whole)")
    parser.add_argument(
        "--set", dest="schema_set", choices=sorted(SCHEMA_SETS), default="current", help="which schemas"
    )
    args = parser.parse_args(argv)
    schema_set = SCHEMA_SETS[args.schema_set]
    try:
        count = fetch(schema_set, args.out, base_url)
    except FetchError as error:
        print(f"fetch_schemas: {error}", file=sys.stderr)
        return 2
    files = len(schema_set.bundles)
    print(f"fetch_schemas: {count} schemas ({schema_set.description}) from {files} upstream files into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
