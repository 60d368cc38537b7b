"""The release manifest, `model.json`, published beside every `model.joblib`.

It is plain JSON, so it is safe to read before the artifact is verified; the
artifact itself is only unpickled once its digest matches the pin.
"""

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

ARTIFACT_NAME = "model.joblib"
MANIFEST_NAME = "model.json"
RELEASE_ASSETS = (ARTIFACT_NAME, MANIFEST_NAME)
# A model version names a folder in the cache and a release tag in a URL.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Evaluation(BaseModel):
    """How well the training procedure generalises, and how that was measured."""

    protocol: str
    folds: int
    seed: int
    accuracy_mean: float
    accuracy_std: float
    precision_positive: float
    recall_positive: float
    f1_positive: float
    fold_accuracies: list[float]


class ModelManifest(BaseModel):
    model_version: str = Field(pattern=VERSION_PATTERN)
    artifact: str = ARTIFACT_NAME
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sklearn_version: str
    pipeline: str
    hyperparameters: dict[str, float | int | str]
    data_source: str
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    data_rows: int
    lexicon_sha256: str | None = None
    lexicon_entries: int = 0
    evaluation: Evaluation
    created_at: datetime

    @classmethod
    def read(cls, path: Path) -> "ModelManifest":
        return cls.model_validate_json(path.read_bytes())

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
