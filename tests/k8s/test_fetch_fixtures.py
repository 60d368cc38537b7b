"""The Pod Security fixtures a machine without ../shared/data downloads: the pinned upstream source archive, served
here over real HTTP on 127.0.0.1 (the internet is the only thing stood in for), made from the very fixtures CI and
developer machines have, must extract to exactly those files; a fixture changed upstream is a clear error."""

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sentiment_devtools.checks import fetch_fixtures
from sentiment_devtools.checks.fetch_schemas import FetchError
from support.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("POD_SECURITY_FIXTURES_DIR", REPO.parent / "shared" / "data" / "pod-security-fixtures"))


def source_archive(files: dict[str, bytes]) -> bytes:
    """The repository's archive as GitHub serves it: one top folder, the fixtures under test/testdata, and more."""
    top = f"pod-security-admission-{fetch_fixtures.REVISION}"
    members = {f"{top}/test/testdata/{name}": content for name, content in files.items()}
    members |= {
        f"{top}/README.md": b"# pod-security-admission\n",
        f"{top}/test/testdata/baseline/v1.33/pass/base.yaml": b"kind: Pod\n",  # another profile's: not ours
        f"{top}/test/testdata/restricted/v1.29/fail/privileged0.yaml": b"kind: Pod\n",  # another release's
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def publish(upstream: Upstream, files: dict[str, bytes]) -> None:
    upstream.publish(urlsplit(fetch_fixtures.archive_url(upstream.url)).path, source_archive(files))


def test_the_shared_fixtures_are_the_pinned_ones():
    assert fetch_fixtures.listing_digest(fetch_fixtures.shared_files(SHARED)) == fetch_fixtures.LISTING_SHA256


def test_the_pinned_archive_extracts_to_exactly_the_fixtures_ci_reads(upstream, tmp_path):
    shared = fetch_fixtures.shared_files(SHARED)
    publish(upstream, shared)

    count = fetch_fixtures.fetch(tmp_path / "fixtures", base_url=upstream.url)

    assert count == len(shared)
    assert fetch_fixtures.shared_files(tmp_path / "fixtures") == shared


def test_a_fixture_changed_upstream_fails_the_fetch_and_leaves_the_old_folder_alone(upstream, tmp_path):
    changed = fetch_fixtures.shared_files(SHARED)
    changed["restricted/v1.37/pass/sysctls1.yaml"] += b"# changed upstream\n"
    publish(upstream, changed)
    out = tmp_path / "fixtures"
    out.mkdir()
    (out / "kept").write_text("the previous fetch")

    with pytest.raises(
        FetchError, match=f"have the listing sha256 [0-9a-f]{{64}}, pinned {fetch_fixtures.LISTING_SHA256}"
    ):
        fetch_fixtures.fetch(out, base_url=upstream.url)

    assert [path.name for path in out.iterdir()] == ["kept"]


def test_an_archive_that_is_not_one_is_reported(upstream, tmp_path):
    upstream.publish(urlsplit(fetch_fixtures.archive_url(upstream.url)).path, b"<html>rate limited</html>")

    with pytest.raises(FetchError, match="is not a gzipped tar archive"):
        fetch_fixtures.fetch(tmp_path / "fixtures", base_url=upstream.url)
    assert not (tmp_path / "fixtures").exists()


def test_the_command_says_what_it_could_not_download_and_exits_2(upstream, tmp_path, capsys):
    status = fetch_fixtures.main(["--out", str(tmp_path / "fixtures")], base_url=upstream.url)

    assert status == 2
    assert f"fetch_fixtures: {fetch_fixtures.archive_url(upstream.url)} answered 404" in capsys.readouterr().err


def test_make_fetches_the_fixtures_only_when_their_folder_does_not_exist(tmp_path):
    def dry_run(folder: Path) -> str:
        arguments = ["make", "-n", "--no-print-directory", "k8s-schemas", f"POD_SECURITY_FIXTURES_DIR={folder}"]
        result = subprocess.run(arguments, cwd=REPO, capture_output=True, text=True, check=True)
        return result.stdout + result.stderr

    without, present = dry_run(tmp_path / "none"), dry_run(SHARED)

    assert f"POD_SECURITY_FIXTURES_DIR={tmp_path / 'none'} does not exist" in without
    assert "python -m sentiment_devtools.checks.fetch_fixtures --out var/pod-security-fixtures" in without
    assert "fetch_fixtures" not in present
