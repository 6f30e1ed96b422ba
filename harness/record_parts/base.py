"""What every typed part of a record shares: explicit fields, JSON of today's shape, unknown
keys kept, and a read-only mapping interface for readers written against the old dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self


@dataclass(frozen=True, kw_only=True)
class Part(Mapping[str, Any]):
    """One part of a record (the machine watch, energy, counted work, where it ran...).

    ``to_dict()`` writes the fields under their own names, leaving out those that are None
    unless ``KEEP_NONE`` names them (the writers never wrote them), then ``extra``: the keys
    this version does not know, read from a newer or hand-written file and written back
    unchanged. ``from_dict`` reads any mapping of that shape, an old file's included. The part
    reads as a mapping too (``part["key"]``, ``part.get("key")``), over the same keys as
    ``to_dict``, so a reader of the old dict keeps working; new readers use the attributes.
    """

    #: keys this version does not know: kept for round trips
    extra: dict[str, Any] = field(default_factory=dict)

    #: fields written as null when None (the others are left out)
    KEEP_NONE: ClassVar[frozenset[str]] = frozenset()
    #: fields holding a part of their own: field name -> its type
    NESTED: ClassVar[dict[str, type[Part]]] = {}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The fields written to the JSON (``extra`` and bookkeeping marked ``written=False``
        left out)."""
        return tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name != "extra" and f.metadata.get("written", True)
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """The part from its JSON object; keys it does not know go to ``extra``."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__} must be an object, not {type(data).__name__}")
        names = set(cls.field_names())
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key == "extra" or key not in names:
                extra[key] = value
            elif key in cls.NESTED and isinstance(value, Mapping):
                values[key] = cls.NESTED[key].from_dict(value)
            else:
                values[key] = value
        return cls(**values, extra=extra)

    def written_when_none(self) -> frozenset[str]:
        """The fields written as null when None (``KEEP_NONE``; a part may decide by value)."""
        return self.KEEP_NONE

    def to_dict(self) -> dict[str, Any]:
        """The part as JSON, in the shape its writers have always written."""
        out: dict[str, Any] = {}
        keep = self.written_when_none()
        for name in self.field_names():
            value = getattr(self, name)
            if value is None and name not in keep:
                continue
            out[name] = value.to_dict() if isinstance(value, Part) else value
        out.update(self.extra)
        return out

    # --- the mapping interface, for readers of the old dicts ---------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key in self.field_names():
            value = getattr(self, key)
            if value is not None or key in self.written_when_none():
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __bool__(self) -> bool:
        return True  # a part that was written is there, even with every field empty
