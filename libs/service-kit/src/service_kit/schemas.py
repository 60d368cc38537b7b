"""The bodies every service answers alike."""

from pydantic import BaseModel


class Status(BaseModel):
    """A probe's answer, or an error's: `ready`, `not ready`, `ok`, and why."""

    status: str
    detail: str = ""
