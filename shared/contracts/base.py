"""The base of every payload: frozen, and tolerant of fields added later.

Consumers ignore fields they do not know (a producer may add one without breaking
older consumers); producers are held to the model by their own types.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
