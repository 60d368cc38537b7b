"""Validate every rendered document against its schema, strictly: an unknown
field (a typo like `weigth:`) is an error, as with `kubectl apply
--validate=strict`. Kubernetes' own kinds: the schemas bundled with
kubernetes-validate. Custom resources (Istio, prometheus-operator): the CRDs'
openAPIV3Schema as JSON, <schema dir>/<group>/<kind>_<version>.json
(../shared/schemas/README.md), against the newest schemas and against those of
the oldest Istio supported (../shared/schemas-istio-1.26/): a field only a newer
Istio knows is refused by the older one's API server, as kubectl's strict field
validation refuses it there, and with validation off the older Istio ignores it."""

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate

from sentiment_devtools.manifests.model import ref

# The oldest Kubernetes the manifests must work on: fields only newer
# releases know fail validation.
KUBERNETES_VERSION = "1.33"
# The oldest Istio the manifests must work on: the first whose support matrix includes Kubernetes 1.33
# (docs/deployment.md, "Prerequisites"); its CRD schemas are ../shared/schemas-istio-1.26.
OLDEST_ISTIO = "1.26"


class SchemaValidator:
    """schema_dir: the newest CRD schemas, of every group. also: further schema folders by what they are (e.g.
    {"Istio 1.26": folder}), each holding some groups: a custom resource of a group one of them holds must also
    validate against it, and its problems there name it."""

    def __init__(
        self, schema_dir: Path, kubernetes_version: str = KUBERNETES_VERSION, also: Mapping[str, Path] | None = None
    ):
        for folder in (schema_dir, *(also or {}).values()):
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"schema folder {folder} not found: point --schemas (or K8S_SCHEMAS_DIR) and "
                    "--oldest-istio-schemas (or K8S_SCHEMAS_ISTIO_1_26_DIR) at the CRD schemas, see "
                    "../shared/schemas/README.md, or download the pinned ones: python -m "
                    "sentiment_devtools.checks.fetch_schemas [--set istio-1.26] --out DIR (make does when a folder "
                    "is missing)"
                )
        self.schema_dir = schema_dir
        self.also = dict(also or {})
        self.kubernetes_version = kubernetes_version

    def problems(self, document: Mapping) -> list[str]:
        group, _, version = document["apiVersion"].rpartition("/")
        if not (group and (self.schema_dir / group).is_dir()):
            return self._builtin_problems(document)
        problems = self._custom_resource_problems(document, self.schema_dir, group, version)
        if not _schema_file(self.schema_dir, document, group, version).is_file():
            return problems  # unknown to the newest: the older ones have nothing to add
        for name, folder in self.also.items():
            if (folder / group).is_dir():
                problems += [
                    f"{problem} (by {name}'s schemas, the oldest supported)"
                    for problem in self._custom_resource_problems(document, folder, group, version)
                    if problem not in problems
                ]
        return problems

    def _builtin_problems(self, document: Mapping) -> list[str]:
        try:
            kubernetes_validate.validate(dict(document), self.kubernetes_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [
                f"{ref(document)}: no schema for {document['apiVersion']} {document['kind']} "
                f"in Kubernetes {self.kubernetes_version} nor in {self.schema_dir}"
            ]
        except kubernetes_validate.ValidationError as error:
            return [f"{ref(document)}: {_path(error.path)}: {error.message}"]
        return []

    def _custom_resource_problems(self, document: Mapping, schema_dir: Path, group: str, version: str) -> list[str]:
        schema_file = _schema_file(schema_dir, document, group, version)
        if not schema_file.is_file():
            return [f"{ref(document)}: no schema for {document['apiVersion']} {document['kind']} ({schema_file})"]
        validator = jsonschema.Draft4Validator(_strict_schema(schema_file))
        problems = [
            f"{ref(document)}: {_path(error.path)}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda error: list(error.path))
        ]
        return problems + self._metadata_problems(document)

    def _metadata_problems(self, document: Mapping) -> list[str]:
        # A CRD's schema leaves metadata to the API server, which checks it as
        # ObjectMeta: validate it as the metadata of a ConfigMap does.
        carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]}
        return [problem.replace("ConfigMap/", f"{document['kind']}/", 1) for problem in self._builtin_problems(carrier)]


def _schema_file(schema_dir: Path, document: Mapping, group: str, version: str) -> Path:
    return schema_dir / group / f"{document['kind'].lower()}_{version}.json"


def _path(path) -> str:
    return ".".join(str(part) for part in path) or "(document)"


# Every object has these; some CRD schemas (Istio's) leave them out.
OBJECT_FIELDS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}


@cache
def _strict_schema(schema_file: Path) -> dict:
    schema = json.loads(schema_file.read_text())
    return _strict(schema | {"properties": OBJECT_FIELDS | schema["properties"]})


def _strict(schema: dict) -> dict:
    """The API server's strict field validation in JSON-schema terms: an object
    with `properties` admits no others, unless it preserves unknown fields."""
    strict = dict(schema)
    if "properties" in schema:
        strict["properties"] = {name: _strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            strict["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        strict["additionalProperties"] = _strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        strict["items"] = _strict(schema["items"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in schema:
            strict[combinator] = [_strict(sub) for sub in schema[combinator]]
    return strict
