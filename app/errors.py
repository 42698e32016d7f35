"""Domain errors. Services raise them; the API turns them into the contract's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Detail:
    field: str
    message: str
    index: int | None = None

    def as_dict(self) -> dict:
        out: dict = {"field": self.field, "message": self.message}
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass
class LiftoffError(Exception):
    """Base of every error a user can cause; ``status`` is the HTTP code it maps to."""

    message: str
    details: list[Detail] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        lines = [self.message]
        for d in self.details:
            where = f"row {d.index}: " if d.index is not None else ""
            lines.append(f"  {where}{d.field}: {d.message}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"error": self.message, "details": [d.as_dict() for d in self.details]}


class ValidationFailed(LiftoffError):
    def __init__(self, message: str, details: list[Detail] | None = None):
        super().__init__(message, details or [], 422)


class NotFound(LiftoffError):
    def __init__(self, message: str):
        super().__init__(message, [], 404)


class Conflict(LiftoffError):
    def __init__(self, message: str, details: list[Detail] | None = None):
        super().__init__(message, details or [], 409)


class Collector:
    """Gathers every problem of an input before failing, so a user sees all bad rows at once."""

    def __init__(self) -> None:
        self.details: list[Detail] = []

    def add(self, field: str, message: str, index: int | None = None) -> None:
        self.details.append(Detail(field, message, index))

    def raise_if_any(self, message: str = "validation failed") -> None:
        if self.details:
            raise ValidationFailed(message, self.details)
