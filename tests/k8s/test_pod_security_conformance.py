"""The restricted-profile check agrees with the Kubernetes project's own conformance fixtures
(../shared/data/pod-security-fixtures, README there): every pod its admission refuses under a release, the check
refuses under that release, and every pod it admits, the check admits."""

import os
from pathlib import Path

import pytest
import yaml
from sentiment_devtools.checks import pod_security

REPO = Path(__file__).resolve().parents[2]
# CI and developer machines have them beside the project; make fetches the pinned ones elsewhere (make k8s-schemas).
FIXTURES = Path(os.environ.get("POD_SECURITY_FIXTURES_DIR", REPO.parent / "shared" / "data" / "pod-security-fixtures"))
RELEASES = ("v1.33", "v1.37")


def fixtures(release: str, verdict: str) -> list[Path]:
    folder = FIXTURES / "restricted" / release / verdict
    found = sorted(folder.glob("*.yaml"))
    assert found, f"no fixtures in {folder}: run `make k8s-schemas`, which downloads them where they are missing"
    return found


def cases(verdict: str) -> list:
    return [
        pytest.param(release, path, id=f"{release}-{path.stem}")
        for release in RELEASES
        if (FIXTURES / "restricted" / release / verdict).is_dir()
        for path in fixtures(release, verdict)
    ]


def violations(release: str, path: Path) -> list[tuple[str, str]]:
    pod = yaml.safe_load(path.read_text())
    return pod_security.violations(pod.get("metadata"), pod["spec"], release)


def test_the_fixtures_of_both_supported_releases_are_there():
    for release in RELEASES:
        assert len(fixtures(release, "pass")) > 10, release
        assert len(fixtures(release, "fail")) > 50, release
    assert tuple(f"v{version}" for version in pod_security.KUBERNETES_VERSIONS) == RELEASES


@pytest.mark.parametrize(("release", "path"), cases("fail"))
def test_every_pod_the_admission_refuses_is_refused(release, path):
    assert violations(release, path), f"{path.relative_to(FIXTURES)} passes, but the restricted profile refuses it"


@pytest.mark.parametrize(("release", "path"), cases("pass"))
def test_every_pod_the_admission_admits_is_admitted(release, path):
    assert violations(release, path) == [], f"{path.relative_to(FIXTURES)} is admitted by the restricted profile"


@pytest.mark.parametrize("sysctl", ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"])
def test_the_tcp_buffer_sysctls_are_safe_since_1_32(sysctl):
    spec = yaml.safe_load((FIXTURES / "restricted/v1.33/pass/sysctls0.yaml").read_text())["spec"]
    spec["securityContext"]["sysctls"] = [{"name": sysctl, "value": "4096 87380 16777216"}]

    assert pod_security.violations({}, spec, "1.33") == []
    assert pod_security.violations({}, spec, "1.31") == [
        ("Sysctls", f"the pod sets sysctl {sysctl}, which is not namespaced and safe")
    ]


def test_a_windows_pod_is_exempt_from_the_linux_only_controls_and_from_no_other():
    spec = yaml.safe_load((FIXTURES / "restricted/v1.33/pass/base_windows.yaml").read_text())["spec"]
    linux = {**spec, "os": {"name": "linux"}}
    rooted = {**spec, "securityContext": {}}

    assert pod_security.violations({}, spec) == []
    assert {control for control, _ in pod_security.violations({}, linux)} == {
        "Capabilities",
        "Seccomp",
        "Privilege Escalation",
    }
    assert {control for control, _ in pod_security.violations({}, rooted)} == {"Running as Non-root"}
