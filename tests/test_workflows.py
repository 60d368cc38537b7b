"""The GitHub Actions workflows can't run here; what they promise is checked here (make lint checks their schema):
every action pinned by commit, least privilege, code tags apart from model tags, and the images the release
pushes are the ones k8s/'s arms pull."""

import re
import tomllib
from pathlib import Path

import yaml
from sentiment_devtools.system import ARMS, SERVICES

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def tag_filter_matches(pattern: str, tag: str) -> bool:
    """GitHub's filter pattern syntax, the part the release uses: [] a character of a set, + one or more of it."""
    regex = "".join(
        part if part.startswith("[") or part == "+" else re.escape(part)
        for part in re.findall(r"\[[^]]+\]|\+|.", pattern)
    )
    return re.fullmatch(regex, tag) is not None


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it():
    uses = [
        (path.name, line.strip())
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.match(r"\s*-?\s*uses:", line)
    ]
    assert uses, "no workflow uses an action"
    unpinned = [
        (name, line)
        for name, line in uses
        if not re.fullmatch(r"-? ?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line)
    ]
    assert unpinned == [], "pin every action by its full commit SHA, with `# vX.Y.Z` after it"


def test_the_image_release_runs_on_code_tags_only_never_on_a_model_releases_tag():
    (pattern,) = workflow("image-release.yml")["on"]["push"]["tags"]

    assert tag_filter_matches(pattern, "1.0.0")
    assert tag_filter_matches(pattern, "12.3.10")
    for tag in ("v1.0.0", "v1.1.0", "1.0", "1.0.0-rc1", "latest"):
        assert not tag_filter_matches(pattern, tag), tag


def test_the_image_release_may_read_the_code_and_write_packages_nothing_more():
    release = workflow("image-release.yml")

    assert release["permissions"] == {"contents": "read"}
    granted = {name: job.get("permissions", release["permissions"]) for name, job in release["jobs"].items()}
    assert granted == {"version": {"contents": "read"}, "images": {"contents": "read", "packages": "write"}}


def test_the_release_builds_every_service_from_its_own_folder_and_checks_the_tag_against_their_versions():
    release = workflow("image-release.yml")
    images = release["jobs"]["images"]
    build = next(step for step in images["steps"] if step.get("uses", "").startswith("docker/build-push-action@"))
    version_check = "\n".join(step.get("run", "") for step in release["jobs"]["version"]["steps"])

    assert tuple(images["strategy"]["matrix"]["service"]) == SERVICES
    assert all((ROOT / service / "Dockerfile").is_file() for service in SERVICES)
    assert build["with"]["context"] == "${{ matrix.service }}"
    assert build["with"]["build-contexts"] == "service-kit=libs/service-kit"  # COPY --from=service-kit
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["tags"] == "${{ steps.image.outputs.name }}:${{ github.ref_name }}"
    assert "for service in model-service app-service app-frontend" in version_check
    assert "needs" in images, "images are pushed before the versions are checked"


def test_the_tags_k8s_pulls_are_the_names_and_versions_the_release_pushes():
    images = [
        image
        for arm in ARMS
        for image in yaml.safe_load((ROOT / "k8s" / "arms" / arm / "kustomization.yaml").read_text())["images"]
    ]
    (pattern,) = workflow("image-release.yml")["on"]["push"]["tags"]
    name_step = next(
        step for step in workflow("image-release.yml")["jobs"]["images"]["steps"] if step.get("id") == "image"
    )
    versions = {tomllib.loads((ROOT / s / "pyproject.toml").read_text())["project"]["version"] for s in SERVICES}

    assert "name=ghcr.io/${OWNER,,}/$SERVICE" in name_step["run"]
    for image in images:
        registry, owner, service = image["newName"].split("/")
        assert registry == "ghcr.io", image
        assert owner == owner.lower(), f"{image['newName']}: GHCR names are lowercase"
        assert service in SERVICES, image
        assert image["name"] == service, image
        assert tag_filter_matches(pattern, image["newTag"]), f"{image['newTag']} is no tag the release makes"
    assert versions <= {image["newTag"] for image in images}, "no image runs the services' version"


def test_ci_runs_exactly_ci_run_on_every_push_and_pull_request_in_a_privileged_bookworm_container():
    ci = workflow("test.yml")
    (job,) = ci["jobs"].values()

    assert ci["on"] == {"push": None, "pull_request": None}, "every branch, every pull request, no filter"
    assert ci["permissions"] == {"contents": "read"}
    assert job["container"]["image"] == "python:3.11-bookworm"
    assert "--privileged" in job["container"]["options"]
    assert [step["run"] for step in job["steps"] if "run" in step] == [".ci/run"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
