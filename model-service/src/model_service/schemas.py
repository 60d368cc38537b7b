"""The API contract: request and response bodies of the model-service."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from model_service.manifest import Evaluation

MAX_REVIEW_CHARS = 5_000
MAX_BATCH_SIZE = 1_000

Review = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REVIEW_CHARS, pattern=r"\S"),
    Field(description=f"The review text: 1 to {MAX_REVIEW_CHARS} characters, not only whitespace."),
]
Label = Literal["negative", "positive"]


class PredictRequest(BaseModel):
    review: Review


class BatchPredictRequest(BaseModel):
    reviews: list[Review] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


class Verdict(BaseModel):
    label: Label
    confidence: float = Field(ge=0.5, le=1.0, description="Probability of the predicted label.")


class PredictResponse(Verdict):
    model_version: str
    app_version: str = Field(description="The experiment arm (stable or canary) of the model-service that answered.")


class BatchPredictResponse(BaseModel):
    predictions: list[Verdict]
    model_version: str
    app_version: str


class VersionResponse(BaseModel):
    service: Literal["model-service"] = "model-service"
    release: str = Field(description="The model-service package version.")
    app_version: str
    model_version: str
    model_sha256: str | None = Field(description="Null until the model is loaded.")
    inference_path: Literal["compiled", "scikit-learn"] | None = Field(
        description="How reviews are scored: the compiled exact fast path, or the pipeline itself."
    )
    evaluation: Evaluation | None
