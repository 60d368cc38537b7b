"""The images and the compose file, checked without a container engine (there is none here)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lockfiles import LOCK_NAME, SERVICES, read_pins, render_lock

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
def test_the_image_pins_exactly_the_runtime_packages_the_tests_ran_with(service):
    expected = render_lock(ROOT / service, read_pins(ROOT / "constraints.txt"))

    assert (ROOT / service / LOCK_NAME).read_text() == expected, f"stale {service}/{LOCK_NAME}: run `make locks`"


def test_docker_compose_accepts_the_compose_file_with_the_example_secrets(tmp_path):
    # Given the compose file with the example env file in place of the git-ignored one
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make system-tools` installs it"
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    example = (ROOT / "compose.env.example").read_text()
    (tmp_path / "compose.env").write_text(example.replace("EXPORT_API_KEY=", "EXPORT_API_KEY=from-the-env-file-1234"))
    for service in SERVICES:
        (tmp_path / service).symlink_to(ROOT / service)

    # When docker-compose validates and resolves it
    result = subprocess.run([compose, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    # Then it is accepted, builds every service from its folder and takes the secret from the env file
    assert result.returncode == 0, result.stderr
    config = result.stdout
    for service in SERVICES:
        assert f"context: {tmp_path / service}\n" in config
    assert config.count("read_only: true") == len(SERVICES)
    assert "EXPORT_API_KEY: from-the-env-file-1234" in config
    assert "model-cache:/var/cache/model-service:rw" in config
    assert "app-data:/var/lib/app-service:rw" in config


def test_the_secrets_file_is_ignored_by_git_and_only_its_example_is_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", "compose.env"], cwd=ROOT, check=False)
    example = subprocess.run(["git", "check-ignore", "-q", "compose.env.example"], cwd=ROOT, check=False)

    assert ignored.returncode == 0
    assert example.returncode == 1
