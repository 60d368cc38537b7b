"""The CRD schemas a machine without ../shared/schemas downloads: the pinned upstream bundles, served here over
real HTTP on 127.0.0.1 (the internet is the only thing stood in for), made from the very schemas CI and developer
machines have, must extract to exactly those files; a changed, missing or unreachable upstream is a clear error."""

import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import yaml
from sentiment_devtools.checks import fetch_schemas
from sentiment_devtools.checks.fetch_schemas import FetchError, fetch
from sentiment_devtools.checks.schema_sources import CURRENT, ISTIO_1_26, Bundle, SchemaSet
from support.services import free_port
from support.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
# Where CI and developer machines keep the schemas of each set (make exports both).
SHARED = {
    CURRENT.name: Path(os.environ.get("K8S_SCHEMAS_DIR", REPO.parent / "shared" / "schemas")),
    ISTIO_1_26.name: Path(os.environ.get("K8S_SCHEMAS_ISTIO_1_26_DIR", REPO.parent / "shared" / "schemas-istio-1.26")),
}
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def upstream_bundle(schema_dir: Path, bundle: Bundle, decoys: bool = True) -> bytes:
    """The bundle as upstream writes it: one CRD per kind, each with its versions, among other documents."""
    kinds: dict[tuple[str, str], list[dict]] = {}
    for name in sorted(bundle.schemas):
        group, _, file_name = name.partition("/")
        kind, _, version = file_name.removesuffix(".json").rpartition("_")
        schema = json.loads((schema_dir / name).read_text())
        version_entry = {"name": version, "served": True, "schema": {"openAPIV3Schema": schema}}
        kinds.setdefault((group, kind), []).append(version_entry)
    documents: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "decoy"}}] if decoys else []
    for (group, kind), versions in kinds.items():
        spec = {"group": group, "names": {"kind": kind.title(), "plural": f"{kind}s"}, "versions": versions}
        documents.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": spec})
    if decoys:  # a kind the set does not pin, as Istio's bundle has WasmPlugin
        unpinned = {"name": "v1alpha1", "schema": {"openAPIV3Schema": {"type": "object"}}}
        spec = {"group": "extensions.istio.io", "names": {"kind": "WasmPlugin"}, "versions": [unpinned]}
        documents.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": spec})
    return yaml.dump_all(documents, Dumper=DUMPER, sort_keys=False).encode()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def small_set(schema_dir: Path, *names: str) -> SchemaSet:
    """A set of a few schemas of the shared folder, pinned by their real sha256, in one bundle."""
    pins = {name: hashlib.sha256((schema_dir / name).read_bytes()).hexdigest() for name in names}
    return SchemaSet("small", "a few", (Bundle("example/crds", "0123abc", "crds.yaml", pins),))


def schema_files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.glob("*/*.json"))}


@pytest.mark.parametrize("schema_set", [CURRENT, ISTIO_1_26], ids=lambda schema_set: schema_set.name)
def test_the_pinned_upstream_bundles_extract_to_exactly_the_schemas_ci_reads(upstream, tmp_path, schema_set):
    shared = SHARED[schema_set.name]
    for bundle in schema_set.bundles:
        upstream.publish(bundle.url(""), upstream_bundle(shared, bundle))

    count = fetch(schema_set, tmp_path / "schemas", base_url=upstream.url)

    fetched, expected = schema_files(tmp_path / "schemas"), schema_files(shared)
    assert sorted(fetched) == sorted(expected), "the fetched folder has other files than the shared one"
    assert count == len(expected)
    for name, content in expected.items():
        assert json.loads(fetched[name]) == json.loads(content), f"{name} differs as JSON"
        assert fetched[name] == content, f"{name} is the same JSON written otherwise"
    sources = json.loads((tmp_path / "schemas" / fetch_schemas.SOURCES_FILE).read_text())
    assert [source["url"] for source in sources["sources"]] == [b.url(upstream.url) for b in schema_set.bundles]


def test_a_schema_changed_upstream_fails_the_fetch_naming_it_and_leaves_the_old_folder_alone(upstream, tmp_path):
    shared, changed_name = SHARED[CURRENT.name], "telemetry.istio.io/telemetry_v1.json"
    schema_set = small_set(shared, changed_name, "security.istio.io/peerauthentication_v1.json")
    (bundle,) = schema_set.bundles
    upstream_copy = tmp_path / "upstream"
    for name in bundle.schemas:
        (upstream_copy / name).parent.mkdir(parents=True, exist_ok=True)
        (upstream_copy / name).write_bytes((shared / name).read_bytes())
    changed = json.loads((upstream_copy / changed_name).read_text())
    changed["properties"]["spec"]["description"] += " Changed upstream."
    (upstream_copy / changed_name).write_text(json.dumps(changed))
    upstream.publish(bundle.url(""), upstream_bundle(upstream_copy, bundle))
    out = tmp_path / "schemas"
    (out / "telemetry.istio.io").mkdir(parents=True)
    (out / "telemetry.istio.io" / "telemetry_v1.json").write_text("{}")

    with pytest.raises(FetchError) as error:
        fetch(schema_set, out, base_url=upstream.url)

    assert f"{changed_name} has sha256" in str(error.value)
    assert schema_set.schemas[changed_name] in str(error.value)
    assert "peerauthentication" not in str(error.value), "an unchanged schema was reported"
    assert (out / "telemetry.istio.io" / "telemetry_v1.json").read_text() == "{}"
    assert not (out / "security.istio.io").exists()


def test_a_pinned_kind_missing_upstream_fails_the_fetch_naming_it(upstream, tmp_path):
    shared = SHARED[CURRENT.name]
    schema_set = small_set(shared, "monitoring.coreos.com/probe_v1.json", "monitoring.coreos.com/podmonitor_v1.json")
    (bundle,) = schema_set.bundles
    only_podmonitor = replace(bundle, schemas={"monitoring.coreos.com/podmonitor_v1.json": "unused"})
    upstream.publish(bundle.url(""), upstream_bundle(shared, only_podmonitor))

    with pytest.raises(FetchError, match=r"crds\.yaml has no monitoring\.coreos\.com/probe_v1\.json"):
        fetch(schema_set, tmp_path / "schemas", base_url=upstream.url)
    assert not (tmp_path / "schemas").exists()


def test_a_file_missing_upstream_is_reported_with_its_url_and_status(upstream, tmp_path):
    schema_set = small_set(SHARED[CURRENT.name], "monitoring.coreos.com/probe_v1.json")

    with pytest.raises(FetchError, match=rf"{upstream.url}/example/crds/0123abc/crds\.yaml answered 404"):
        fetch(schema_set, tmp_path / "schemas", base_url=upstream.url)


def test_a_body_over_the_limit_is_refused(upstream, tmp_path):
    shared = SHARED[CURRENT.name]
    schema_set = small_set(shared, "monitoring.coreos.com/probe_v1.json")
    upstream.publish(schema_set.bundles[0].url(""), upstream_bundle(shared, schema_set.bundles[0]))

    with pytest.raises(FetchError, match="is over 1000 bytes; stopped"):
        fetch(schema_set, tmp_path / "schemas", base_url=upstream.url, max_bytes=1000)


def test_a_server_that_accepts_but_never_answers_times_out_with_a_message(tmp_path):
    schema_set = small_set(SHARED[CURRENT.name], "monitoring.coreos.com/probe_v1.json")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel completes the handshake; nobody reads
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        with pytest.raises(FetchError, match=r"timed out .*is GitHub reachable from here"):
            fetch(schema_set, tmp_path / "schemas", base_url=base_url, timeout=httpx.Timeout(0.5))


def test_the_command_says_what_it_could_not_reach_and_exits_2(tmp_path, capsys):
    closed = free_port()  # nothing listens there: connection refused

    status = fetch_schemas.main(["--out", str(tmp_path / "schemas")], base_url=f"http://127.0.0.1:{closed}")

    assert status == 2
    assert f"fetch_schemas: could not download http://127.0.0.1:{closed}/istio/api/" in capsys.readouterr().err
    assert not (tmp_path / "schemas").exists()


def make_dry_run(*arguments: str) -> str:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *arguments], cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout + result.stderr


def test_make_fetches_the_schemas_only_when_their_folder_does_not_exist(tmp_path):
    missing = tmp_path / "no-schemas"

    without = make_dry_run("k8s-schemas", f"K8S_SCHEMAS_DIR={missing}")
    present = make_dry_run("k8s-schemas", f"K8S_SCHEMAS_DIR={SHARED[CURRENT.name]}")

    assert f"K8S_SCHEMAS_DIR={missing} does not exist" in without
    assert "python -m sentiment_devtools.checks.fetch_schemas --set current --out var/k8s-schemas/current" in without
    assert "fetch_schemas --set current" not in present
