"""Validate every rendered document against its schema, strictly: an unknown
field (a typo like `weigth:`) is an error, as with `kubectl apply
--validate=strict`. Kubernetes' own kinds: the schemas bundled with
kubernetes-validate. Custom resources (Istio, prometheus-operator): the CRDs'
openAPIV3Schema as JSON, <schema dir>/<group>/<kind>_<version>.json
(../shared/schemas/README.md)."""

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


class SchemaValidator:
    def __init__(self, schema_dir: Path, kubernetes_version: str = KUBERNETES_VERSION):
        if not schema_dir.is_dir():
            raise FileNotFoundError(
                f"schema folder {schema_dir} not found: point --schemas (or K8S_SCHEMAS_DIR) at the CRD schemas, "
                "see ../shared/schemas/README.md, or download the pinned ones: "
                "python -m sentiment_devtools.checks.fetch_schemas --out DIR (make does when the folder is missing)"
            )
        self.schema_dir = schema_dir
        self.kubernetes_version = kubernetes_version

    def problems(self, document: Mapping) -> list[str]:
        group, _, version = document["apiVersion"].rpartition("/")
        if group and (self.schema_dir / group).is_dir():
            return self._custom_resource_problems(document, group, version)
        return self._builtin_problems(document)

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

    def _custom_resource_problems(self, document: Mapping, group: str, version: str) -> list[str]:
        schema_file = self.schema_dir / group / f"{document['kind'].lower()}_{version}.json"
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
