"""A policy whose settings model is a plain pydantic model instead of a PolicySettings: refused at start-up."""

from __future__ import annotations

from pydantic import BaseModel

from coachsync.api import hookimpl


class Loose(BaseModel):
    amount: int = 1


@hookimpl
def coachsync_policy_settings() -> type[Loose]:
    return Loose
