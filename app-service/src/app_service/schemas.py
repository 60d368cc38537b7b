"""The API contract: request and response bodies of the app-service."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from service_kit.schemas import Status

MAX_REVIEW_CHARS = 5_000

Label = Literal["negative", "positive"]
Review = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REVIEW_CHARS, pattern=r"\S"),
    Field(description=f"The review text: 1 to {MAX_REVIEW_CHARS} characters, not only whitespace."),
]


class ReviewRequest(BaseModel):
    review: Review


class Versions(BaseModel):
    """Which version of each part answered: the whole chain should be one arm."""

    app_service: str = Field(description="The app-service's experiment arm.")
    model_service: str = Field(description="The model-service's experiment arm.")
    model: str = Field(description="The model release that classified the review.")


class SentimentResponse(BaseModel):
    id: str = Field(description="Random, opaque id of the stored review, for its feedback.")
    label: Label
    confidence: float | None = Field(description="Probability of the label; null unless this version shows it.")
    versions: Versions


class FeedbackRequest(BaseModel):
    label: Label = Field(description="The label the user says is right.")


class FeedbackResponse(BaseModel):
    id: str
    label: Label = Field(description="The label the user gave.")
    predicted_label: Label
    outcome: Literal["confirmed", "corrected"]


class ModelServiceVersion(BaseModel):
    """The part of the model-service's `GET /version` answer this service passes on."""

    release: str
    app_version: str
    model_version: str
    model_sha256: str | None


class VersionResponse(BaseModel):
    service: Literal["app-service"] = "app-service"
    release: str = Field(description="The app-service package version.")
    app_version: str
    model_service: ModelServiceVersion | None = Field(description="Null when the model-service cannot be asked.")
    model_service_problem: str = Field("", description="Why model_service is null.")


class ReadyStatus(Status):
    model_service: str = Field("", description="'ready', or why the model-service is not; never fails this probe.")
