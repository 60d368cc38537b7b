"""tools/ is one package in layers: one import root, each layer importing only the layers below it, and the
system's topology (services, arms) spelled in one module only."""

import ast
import re
from pathlib import Path

import pytest
import sentiment_devtools
from sentiment_devtools import system

ROOT = Path(__file__).resolve().parents[1]
TOOLS_SRC = ROOT / "tools" / "src"
PACKAGE = Path(sentiment_devtools.__file__).parent
# Bottom first; a module may import from its own package and from the layers before its own, never after, and
# not from a sibling of its layer. The stack's own layers: the supervisor and the release below the monitoring.
# An experiment's declaration and its plan sit below the checks, which hold k8s/ to them.
LAYERS = (
    {"system"},
    {"manifests"},
    {"mesh"},
    {"experiment.planning"},
    {"experiment.declaration"},
    {"checks"},
    {"stack.supervisor", "stack.model_release"},
    {"stack.monitoring", "stack.postgres"},
    {"stack"},
    {"images", "lockfiles", "experiment"},
)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def dotted(path: Path) -> str:
    """The module's name relative to sentiment_devtools; the root package's own is "system"'s layer."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "system"


def part_of(module: str) -> tuple[int, str]:
    """The layer of a module (relative to sentiment_devtools) and the part of that layer it belongs to."""
    matches = [
        (len(part), index, part)
        for index, parts in enumerate(LAYERS)
        for part in parts
        if module == part or module.startswith(f"{part}.")
    ]
    assert matches, f"sentiment_devtools.{module} is in no layer of this test: add it to LAYERS"
    _, index, part = max(matches)
    return index, part


def imported(path: Path) -> set[str]:
    """The sentiment_devtools modules `path` imports, relative to sentiment_devtools."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sentiment_devtools"):
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("sentiment_devtools")}
    return {name.removeprefix("sentiment_devtools").lstrip(".") for name in names}


def test_the_tools_have_one_import_root():
    top_level = {path.name for path in TOOLS_SRC.iterdir() if not path.name.endswith(".egg-info")}
    assert top_level == {"sentiment_devtools"}


@pytest.mark.parametrize("path", modules(), ids=dotted)
def test_each_module_imports_only_from_its_own_part_and_the_layers_below(path):
    layer, part = part_of(dotted(path))
    upward = []
    for name in sorted(imported(path)):
        if not name:
            continue
        other_layer, other_part = part_of(name)
        if other_part != part and other_layer >= layer:
            upward.append(f"{name} (layer {other_layer}: {other_part})")
    assert upward == [], f"{dotted(path)} (layer {layer}: {part}) imports from its layer or above: {upward}"


@pytest.mark.parametrize("names", [system.ARMS, system.SERVICES], ids=["arms", "services"])
def test_the_topology_is_spelled_in_sentiment_devtools_system_only(names):
    literal = re.compile(
        r"[(\[{]\s*" + r"\s*,\s*".join([r"""["']([\w-]+)["']"""] * len(names)) + r"\s*,?\s*[)\]}]", re.MULTILINE
    )
    sources = [*TOOLS_SRC.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    spelled = [
        f"{path.relative_to(ROOT)}: {found.group(0)}"
        for path in sources
        if path.resolve() != Path(system.__file__).resolve()
        for found in literal.finditer(path.read_text())
        if sorted(found.groups()) == sorted(names)
    ]
    assert spelled == [], "import them from sentiment_devtools.system instead"
