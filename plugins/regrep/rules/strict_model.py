"""The base of every rule model: a typo in a rule file is an error, not an ignored setting."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown fields are errors and rules are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
