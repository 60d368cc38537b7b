"""The visitor id: the experiment's unit, which the frontend makes and the app-service reads.

128 random bits, URL-safe base64 without padding (22 characters of A-Z a-z 0-9 - _),
as `secrets.token_urlsafe(16)` writes them: random, so it says nothing about the visitor
and links to nothing; long enough that two visitors never share one. Like the arms
(settings.ARMS), it is a contract of both services, so its format is written once.
"""

import re
import secrets

VISITOR_ID_BYTES = 16
VISITOR_ID_PATTERN = r"[A-Za-z0-9_-]{22}"
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)


def new_visitor_id() -> str:
    return secrets.token_urlsafe(VISITOR_ID_BYTES)


def is_visitor_id(value: str | None) -> bool:
    """Exactly the format of new_visitor_id(): anything else (longer, shorter, other characters) is no id."""
    return value is not None and _VISITOR_ID.fullmatch(value) is not None
