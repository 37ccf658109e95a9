"""`field__any=values`: membership in a list as one array parameter on PostgreSQL.

`field__in=[…]` sends one placeholder per value. For the hundreds of agents one applied batch
touches, Django prepares every value through the field, psycopg parses the placeholders of a
statement too long for its query cache, and PostgreSQL parses the list again: under ingest
load that was a fifth of the Celery worker's CPU. `column = ANY(%s)` sends the list as one
array, whatever its length. Off PostgreSQL (SQLite, the embedded default) it is `IN (…)`.

Values are passed as they are (ints, strings, dates): no model instances, no expressions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        if isinstance(self.rhs, str) or not hasattr(self.rhs, "__iter__"):
            raise TypeError(f"__any takes a collection of values, not {type(self.rhs).__name__}")
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # An array of the column's own type: psycopg would type a list of small ints int2[] or
        # int4[], and PostgreSQL cannot hash a cross-type comparison, so a bigint column would
        # be compared with every element in turn (20× slower for 1000 ids in a filter).
        array = f"%s::{self.lhs.output_field.cast_db_type(connection)}[]"
        return f"{lhs} = ANY({array})", (*lhs_params, self.rhs)


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # relations keep lookups of their own
