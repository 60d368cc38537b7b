"""The images and the compose file, checked without a container engine (there is none here)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sentiment_devtools.lockfiles import LOCK_NAME, stale_reasons
from sentiment_devtools.system import SERVICE_KIT, SERVICES

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_is_slim_multi_stage_non_root_and_healthchecked(service):
    dockerfile = (ROOT / service / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]

    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["python:3.11-slim-bookworm"] * 2
    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/readyz", final_stage, re.MULTILINE)
    assert "EXPOSE 8000" in final_stage
    assert f'CMD ["{service}", "serve"]' in final_stage
    assert not re.search(r"apt-get|gcc|build-essential", dockerfile)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_pins_exactly_the_runtime_packages_the_tests_ran_with_each_by_its_hashes(service):
    assert stale_reasons(ROOT, service) == [], "run `make locks`"
    dockerfile = (ROOT / service / "Dockerfile").read_text()
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert re.search(r"--no-deps --no-build-isolation /src/service-kit /src/service$", dockerfile, re.MULTILINE)


def copy_of_the_inputs(folder: Path, service: str) -> Path:
    for path in (
        f"{service}/pyproject.toml",
        f"{service}/{LOCK_NAME}",
        f"{SERVICE_KIT}/pyproject.toml",
        "constraints.txt",
    ):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, folder / path)
    return folder


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (("constraints.txt", "anyio==4.16.0", "anyio==4.17.0"), "pins anyio==4.16.0, constraints.txt anyio==4.17.0"),
        (("app-service/pyproject.toml", '"yarl==1.25.1",', '"yarl==1.25.1", "rich==15.0.0",'), "other requirements"),
        ((f"{SERVICE_KIT}/pyproject.toml", '"httptools==0.9.0",', ""), "other requirements"),
        (("app-service/requirements.lock", "--hash=sha256:", "--hash=md5:"), "has no hash"),
    ],
    ids=["a constraint moved", "a requirement added", "the kit's requirement dropped", "hashes missing"],
)
def test_a_lock_is_stale_once_its_requirements_or_the_constraints_change(tmp_path, edit, reason):
    root = copy_of_the_inputs(tmp_path, "app-service")
    path, old, new = edit
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new))

    reasons = stale_reasons(root, "app-service")

    assert any(reason in line for line in reasons), reasons


def for_docker_compose_1_29(compose_file: str) -> str:
    """The compose file without its builds' `additional_contexts`, the one key Debian's docker-compose 1.29
    predates (Compose v2.17 builds with it); test_the_compose_files_are_valid_compose_specification checks
    the file as it is."""
    lines = compose_file.splitlines(keepends=True)
    kept = [line for line in lines if line.strip() != "additional_contexts: *service-kit"]
    assert len(kept) == len(lines) - len(SERVICES), "one named context per service's build"
    return "".join(kept)


def compose_project(folder: Path) -> None:
    """The compose files in `folder` as docker-compose 1.29 reads them, the example env file in place of the
    git-ignored one."""
    (folder / "docker-compose.yml").write_text(for_docker_compose_1_29((ROOT / "docker-compose.yml").read_text()))
    shutil.copy(ROOT / "docker-compose.mesh.yml", folder)
    example = (ROOT / "compose.env.example").read_text()
    (folder / "compose.env").write_text(example.replace("EXPORT_API_KEY=", "EXPORT_API_KEY=from-the-env-file-1234"))
    for service in SERVICES:
        (folder / service).symlink_to(ROOT / service)


def check_compose_specification(*files: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with the Compose Specification's current schema (built into it)."""
    command = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=60, check=False)


def test_the_compose_files_are_valid_compose_specification_and_every_build_has_the_service_kit(tmp_path):
    valid = check_compose_specification(ROOT / "docker-compose.yml", ROOT / "docker-compose.mesh.yml")
    misspelled = tmp_path / "docker-compose.yml"
    misspelled.write_text(
        (ROOT / "docker-compose.yml").read_text().replace("additional_contexts:", "additional_context:")
    )

    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert check_compose_specification(misspelled).returncode == 1  # the schema does refuse a key it does not know
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    builds = [service["build"] for service in services.values() if "build" in service]
    assert {build["context"] for build in builds} == {f"./{service}" for service in SERVICES}
    assert all(build["additional_contexts"] == {"service-kit": f"./{SERVICE_KIT}"} for build in builds)
    assert (ROOT / SERVICE_KIT / "pyproject.toml").is_file()


def docker_compose(folder: Path, *arguments: str, **variables: str) -> subprocess.CompletedProcess:
    """docker-compose ARGUMENTS, its ${...} filled in from `variables` alone among the MODEL_* ones."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make system-deps` installs it"
    env = {name: value for name, value in os.environ.items() if not name.startswith("MODEL_")} | variables
    return subprocess.run(
        [compose, *arguments], cwd=folder, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_docker_compose_accepts_the_compose_file_with_the_example_secrets(tmp_path):
    # Given the compose file with the example env file in place of the git-ignored one
    compose_project(tmp_path)

    # When docker-compose validates and resolves it
    result = docker_compose(tmp_path, "config")

    # Then it is accepted, builds every service from its folder and takes the secret from the env file
    assert result.returncode == 0, result.stderr
    config = result.stdout
    for service in SERVICES:
        assert f"context: {tmp_path / service}\n" in config
    assert config.count("read_only: true") == len(SERVICES) + 1  # and the one-shot model-prepare
    assert "EXPORT_API_KEY: from-the-env-file-1234" in config
    assert "model-cache:/var/cache/model-service:rw" in config
    assert "app-data:/var/lib/app-service:rw" in config


def test_the_model_service_starts_once_the_one_shot_step_has_trained_its_model_into_the_shared_volume(tmp_path):
    compose_project(tmp_path)

    services = yaml.safe_load(docker_compose(tmp_path, "config").stdout)["services"]

    prepare, model = services["model-prepare"], services["model-service"]
    assert prepare["command"] == ["model-service", "prepare"]
    assert prepare["restart"] == "no"
    assert prepare["healthcheck"] == {"test": ["NONE"]}  # disabled: it runs no server for the HEALTHCHECK to ask
    assert prepare["image"] == model["image"]
    assert model["depends_on"] == {"model-prepare": {"condition": "service_completed_successfully"}}
    assert prepare["volumes"] == model["volumes"]
    # Without a published release of ours: the model trained in place, pinned by its own manifest
    for service in (prepare, model):
        assert service["environment"]["MODEL_SOURCE"] == "trained"
        assert service["environment"]["MODEL_VERSION"] == "v1.0.0"
        assert service["environment"]["MODEL_SHA256"] == ""


def test_a_published_release_is_served_by_setting_its_version_and_the_sha256_of_its_manifest(tmp_path):
    compose_project(tmp_path)
    pin = {"MODEL_SOURCE": "release", "MODEL_VERSION": "v1.1.0", "MODEL_SHA256": "ab" * 32,
           "MODEL_REPOSITORY": "a-fork/sentiment-canary"}  # fmt: skip

    result = docker_compose(tmp_path, "config", **pin)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("model-prepare", "model-service"):
        assert {key: services[name]["environment"][key] for key in pin} == pin


def test_the_mesh_variant_adds_the_canaries_and_envoy_with_the_config_compiled_from_k8s(tmp_path):
    # Given the compose files, and Envoy's configuration compiled from k8s/ for the containers
    compose_project(tmp_path)
    envoy_config = tmp_path / "var" / "compose-mesh" / "envoy.yaml"
    compile_config = [sys.executable, "-m", "sentiment_devtools.stack.compose_mesh", "--k8s-dir", str(ROOT / "k8s")]
    subprocess.run([*compile_config, "--out", str(envoy_config)], check=True, capture_output=True, timeout=60)

    # When docker-compose resolves the two files together, and Envoy checks its configuration
    result = docker_compose(tmp_path, "-f", "docker-compose.yml", "-f", "docker-compose.mesh.yml", "config")
    envoy = subprocess.run(
        [str(Path(sys.executable).parent / "envoy"), "--mode", "validate", "-c", str(envoy_config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    # Then both versions of every service run behind Envoy, which accepts the routes it got
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {*SERVICES, *(f"{service}-canary" for service in SERVICES), "envoy", "model-prepare"}
    assert services["model-service-canary"]["depends_on"] == services["model-service"]["depends_on"]
    assert services["model-service-canary"]["environment"]["MODEL_SOURCE"] == "trained"
    assert services["app-service"]["environment"]["MODEL_SERVICE_URL"] == "http://envoy:15001"
    assert services["app-service-canary"]["environment"]["MODEL_SERVICE_URL"] == "http://envoy:15002"
    assert services["app-frontend-canary"]["environment"]["SET_VERSION_COOKIE"] == "false"
    assert envoy.returncode == 0, envoy.stderr[-2000:]
    assert "address: model-service-canary" in envoy_config.read_text()


def test_the_secrets_file_is_ignored_by_git_and_only_its_example_is_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", "compose.env"], cwd=ROOT, check=False)
    example = subprocess.run(["git", "check-ignore", "-q", "compose.env.example"], cwd=ROOT, check=False)

    assert ignored.returncode == 0
    assert example.returncode == 1
