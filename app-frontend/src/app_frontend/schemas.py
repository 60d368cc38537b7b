"""The page's contract with its script: what index.html writes into the data attributes of #app for app.js."""

from pydantic import BaseModel, Field
from service_kit.settings import Arm
from service_kit.visitor_id import VISITOR_ID_PATTERN


class PageData(BaseModel):
    api_url: str = Field(description="The app-service URL the script calls (the page's only connect-src).")
    page_version: Arm = Field(description="The arm the script names in X-App-Version: the cookie's, else this one's.")
    show_confidence: bool = Field(description="Show the model's confidence next to the verdict (the feature flag).")
    visitor_id: str = Field(
        pattern=f"^{VISITOR_ID_PATTERN}$", description="The visitor's random id; the script sends it as X-Visitor-Id."
    )
