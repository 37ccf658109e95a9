"""A tenant's game as one JSON document (`manage.py export_game` / `import_game`,
`GET /game/export`, `POST /game/import`, `create_tenant --template starter`).

The document is `{"format": "gamify.game/1", <section>: …}` with one entry per section of the
registry below, applied in its order (KPIs before the rules that name them, badges before the
contests whose prizes name them). Importing checks the whole document and writes it in one
transaction, or writes nothing: every item goes through the same service (and validation) as
the API, each in a savepoint, and every error is collected under its path inside the document
(`point_rules[2].kpi`, `contest_templates[0].prizes[1].coins`); any error rolls the whole
import back. Items are matched by their natural key — a KPI by code, a rule, reward or contest
template by name, a badge by code — and created or updated; the level table is replaced.
Nothing absent from the document is deleted.

A section is a name, an `export(tenant)` and an `apply(tenant, value, errors)`;
gamify/game_templates/sections.py holds the built-in ones, registered when the app is ready.
`register_section` adds another (one export and one apply function) without touching the
others; alert rules (gamify.coaching) are one such section, built in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, transaction

from accounts.models import Tenant
from core.errors import ApplicationError, InvalidInputError

FORMAT = "gamify.game/1"
BUNDLED = Path(__file__).resolve().parent / "bundled"


class GameDocumentInvalid(InvalidInputError):
    """400: the document's errors, each under its path inside the document."""


class Errors:
    """Errors keyed by their path in the document."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.by_path.setdefault(path, []).append(message)

    @contextmanager
    def item(self, path: str) -> Iterator[None]:
        """Apply one item in a savepoint: its failure is recorded under `path` and undone,
        and the import goes on to find the other errors."""
        try:
            with transaction.atomic():
                yield
        except ApplicationError as exc:
            if not exc.errors:
                self.add(path, str(exc.detail))
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add(join(path, field), message)
        except DjangoValidationError as exc:
            for message in exc.messages:
                self.add(path, message)
        except (DataError, IntegrityError, ValueError, TypeError) as exc:
            # What the services leave to the API's serializers (a name's length, a NUL
            # character) the database refuses: the item's error, never a 500.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.add(path, f"Not a valid item: {first[:200]}")


def join(path: str, field: str) -> str:
    """`point_rules[2]` + `participants.teams.0` → `point_rules[2].participants.teams[0]`."""
    out = path
    for part in field.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


@dataclass(frozen=True)
class Section:
    name: str
    export: Callable[[Tenant], Any]
    apply: Callable[[Tenant, Any, Errors], int]  # returns how many items it applied
    kind: type = list  # the JSON type of the section's value


SECTIONS: list[Section] = []


def register_section(section: Section, *, after: str | None = None) -> None:
    """Add a section; `after` places it behind the one it depends on (default: last)."""
    if any(s.name == section.name for s in SECTIONS):
        raise ValueError(f"section {section.name!r} is registered already")
    names = [s.name for s in SECTIONS]
    SECTIONS.insert(names.index(after) + 1 if after else len(SECTIONS), section)


# --- the document ---------------------------------------------------------------------------
def game_export(*, tenant: Tenant) -> dict[str, Any]:
    """The tenant's game configuration as one JSON-ready document."""
    document: dict[str, Any] = {"format": FORMAT}
    for section in SECTIONS:
        document[section.name] = section.export(tenant)
    # Through JSON once, so that what is returned is exactly what a file would hold.
    loaded: dict[str, Any] = json.loads(json.dumps(document, default=str))
    return loaded


def game_import(*, tenant: Tenant, document: Any) -> dict[str, int]:
    """Check the whole document and apply it in one transaction, or raise
    GameDocumentInvalid naming every error by its path and apply nothing."""
    errors = Errors()
    if not isinstance(document, dict):
        raise GameDocumentInvalid({"document": "The document must be a JSON object."})
    if document.get("format") != FORMAT:
        errors.add("format", f"Must be {FORMAT!r}.")
    known = {s.name for s in SECTIONS} | {"format"}
    for key in sorted(set(document) - known):
        errors.add(key, f"Unknown section (known: {', '.join(sorted(known - {'format'}))}).")
    for section in SECTIONS:
        value = document.get(section.name, section.kind())
        if not isinstance(value, section.kind):
            errors.add(
                section.name, f"Must be a JSON {'list' if section.kind is list else 'object'}."
            )
    if errors.by_path:
        raise GameDocumentInvalid(errors.by_path)
    counts: dict[str, int] = {}
    with transaction.atomic():
        for section in SECTIONS:
            counts[section.name] = section.apply(
                tenant, document.get(section.name, section.kind()), errors
            )
        if errors.by_path:
            transaction.set_rollback(True)
    if errors.by_path:
        raise GameDocumentInvalid(errors.by_path)
    return counts


def bundled_names() -> list[str]:
    return sorted(path.stem for path in BUNDLED.glob("*.json"))


def bundled_document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((BUNDLED / f"{name}.json").read_text())
    return loaded


def template_apply(name: str) -> Callable[[Tenant], None]:
    def apply(tenant: Tenant) -> None:
        game_import(tenant=tenant, document=bundled_document(name))

    return apply
