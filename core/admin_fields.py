"""Admin form pieces for lists of small records kept in a JSON column (a contest's guardrails and
prizes): a table of rows, one input per column, instead of a raw JSON text area.

`RowsField` parses each row with ordinary form fields (types only: a number is a number, a
choice is one of the offered choices); what the values mean is left to the service the API
uses too, so both refuse the same input with the same words. The table always shows a few
blank rows to fill in and a "remove" box per row; it needs no JavaScript.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

REMOVE = "remove"
MAX_ROWS = 50  # more rows than any contest needs; bounds what a forged POST makes us parse


class RowsWidget(forms.Widget):
    """A table with a column per field; inputs are named `<name>-<row>-<column>`."""

    def __init__(self, columns: Mapping[str, forms.Field], extra: int) -> None:
        super().__init__()
        self.columns = dict(columns)
        self.extra = extra

    def __deepcopy__(self, memo: dict[int, Any]) -> RowsWidget:
        # The columns are deep-copied with the field that owns them (RowsField.__deepcopy__).
        result = copy.copy(self)
        result.attrs = self.attrs.copy()
        memo[id(self)] = result
        return result

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, Any]]:
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MAX_ROWS)
        except (TypeError, ValueError):
            count = 0
        rows = []
        for index in range(count):
            prefix = f"{name}-{index}-"
            if forms.CheckboxInput().value_from_datadict(data, files, prefix + REMOVE):
                continue
            row = {
                column: field.widget.value_from_datadict(data, files, prefix + column)
                for column, field in self.columns.items()
            }
            if any(value not in (None, "", False) for value in row.values()):
                rows.append(row)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-rows" not in data

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        rows = [dict(row) for row in value or [] if isinstance(row, Mapping)]
        rows += [{} for _ in range(self.extra)]
        head = format_html_join(
            "", "<th>{}</th>", ((field.label or column,) for column, field in self.columns.items())
        )
        body = format_html_join(
            "\n",
            "<tr>{}<td>{}</td></tr>",
            (
                (
                    format_html_join(
                        "",
                        "<td>{}</td>",
                        (
                            (
                                field.widget.render(
                                    f"{name}-{index}-{column}",
                                    field.prepare_value(row.get(column)),
                                    {"id": f"id_{name}-{index}-{column}"},
                                    renderer,
                                ),
                            )
                            for column, field in self.columns.items()
                        ),
                    ),
                    forms.CheckboxInput().render(
                        f"{name}-{index}-{REMOVE}",
                        False,
                        {"id": f"id_{name}-{index}-{REMOVE}", "title": gettext("Remove this row")},
                        renderer,
                    ),
                )
                for index, row in enumerate(rows)
            ),
        )
        return format_html(
            '<table id="id_{}" class="gamify-rows"><thead><tr>{}<th>{}</th></tr></thead>'
            '<tbody>{}</tbody></table><input type="hidden" name="{}-rows" value="{}">',
            name,
            head,
            gettext("Remove"),
            body,
            name,
            len(rows),
        )


class RowsField(forms.Field):
    """A list of records, one table row each; blank rows are left out."""

    def __init__(self, *, columns: Mapping[str, forms.Field], extra: int = 2, **kwargs: Any):
        self.columns = dict(columns)
        kwargs.setdefault("required", False)
        super().__init__(widget=RowsWidget(self.columns, extra), **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RowsField:
        result = super().__deepcopy__(memo)
        result.columns = {name: copy.deepcopy(field, memo) for name, field in self.columns.items()}
        result.widget.columns = result.columns
        return result

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if not value:
            return []
        out, errors = [], []
        for number, row in enumerate(value, start=1):
            clean: dict[str, Any] = {}
            for column, field in self.columns.items():
                try:
                    clean[column] = field.clean(row.get(column))
                except ValidationError as exc:
                    label = field.label or column
                    errors += [
                        gettext("Row %(number)s, %(column)s: %(problem)s")
                        % {"number": number, "column": label, "problem": message}
                        for message in exc.messages
                    ]

            out.append(clean)
        if errors:
            raise ValidationError(errors)
        return out

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            rows = self.to_python(data)
        except ValidationError:
            return True
        before = [
            {column: field.to_python(row.get(column)) for column, field in self.columns.items()}
            for row in initial or []
        ]
        return rows != before
