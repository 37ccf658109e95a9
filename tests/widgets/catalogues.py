"""Read the widget templates' strings and the widget catalogues without gettext's tools.

Used by test_i18n.py; small on purpose: the .po files are the ones `makemessages` writes.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "gamify" / "widgets"
LOCALES = ("en", "zh_Hans", "zh_Hant", "fa")
# Characters written only in Simplified Chinese (their Traditional forms differ).
SIMPLIFIED_ONLY = set(
    "们这积级过链无账获励赢竞进状态请认设员统计现动线点击历经为队团时间显围标货发币调联迟变结内"
    "达还没数选择绩优"
)

_TRANSLATE = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1""", re.S)
_BLOCK = re.compile(r"\{%\s*blocktranslate\b(.*?)%\}(.*?)\{%\s*endblocktranslate\s*%\}", re.S)
_PLURAL = re.compile(r"\{%\s*plural\s*%\}")
_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# The Python modules' translated strings: calls of these names on a string literal (a literal
# may be split over lines, as `ruff format` leaves long ones).
_PY_MARKERS = {"_", "gettext", "gettext_lazy", "gettext_noop"}


@dataclass
class Entry:
    msgid: str
    plural: str | None = None
    strs: list[str] = field(default_factory=list)
    fuzzy: bool = False


def strings_of_template(source: str) -> set[tuple[str, str | None]]:
    """(msgid, msgid_plural) of one template's {% translate %} and {% blocktranslate %}."""
    found: set[tuple[str, str | None]] = {(text, None) for _, text in _TRANSLATE.findall(source)}
    for _, body in _BLOCK.findall(source):
        parts = [_VAR.sub(r"%(\1)s", p) for p in _PLURAL.split(body)]
        found.add((parts[0], parts[1] if len(parts) > 1 else None))
    return found


def template_strings() -> set[tuple[str, str | None]]:
    """(msgid, msgid_plural) of every string the templates and views translate."""
    found: set[tuple[str, str | None]] = set()
    for path in sorted((APP / "templates").rglob("*.html")):
        found |= strings_of_template(path.read_text(encoding="utf-8"))
    for path in sorted(APP.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            first = node.args[0]
            if (
                name in _PY_MARKERS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.add((first.value, None))
    return found


def _unquote(line: str) -> str:
    return ast.literal_eval(line)


def read_po(path: Path) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    target: str | None = None
    fuzzy = False
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if current is not None and current.msgid:
                entries[current.msgid] = current
            current, target, fuzzy = None, None, False
            continue
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural "):
            assert current is not None
            current.plural, target = _unquote(line[13:]), "plural"
        elif line.startswith("msgid "):
            current, target = Entry(msgid=_unquote(line[6:]), fuzzy=fuzzy), "msgid"
        elif line.startswith("msgstr"):
            assert current is not None
            current.strs.append(_unquote(line.split(" ", 1)[1]))
            target = "msgstr"
        elif line.startswith('"') and current is not None:
            more = _unquote(line)
            if target == "msgid":
                current.msgid += more
            elif target == "plural":
                current.plural = (current.plural or "") + more
            elif target == "msgstr":
                current.strs[-1] += more
    return entries


def po_path(locale: str) -> Path:
    return APP / "locale" / locale / "LC_MESSAGES" / "django.po"
