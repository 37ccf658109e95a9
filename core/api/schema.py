"""drf-spectacular extensions: request bodies that refuse unknown fields and bounded numbers,
as the OpenAPI schema describes them (the authentication schemes: accounts/api/schema.py)."""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """A StrictSerializer answers an unknown field with a 400 naming it: its request body says
    `additionalProperties: false`, so generated clients and fuzzers know."""

    target_class = "core.api.base.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class StrictNumberFieldSchema(OpenApiSerializerFieldExtension):
    """A StrictNumberField is a JSON number within the bounds the field (and the service
    behind it) enforces: the schema says so, so clients and fuzzers know the range."""

    target_class = "core.api.base.StrictNumberField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        schema: dict[str, Any] = {"type": "number"}
        for keyword, bound in (
            ("minimum", self.target.minimum),
            ("exclusiveMinimum", self.target.above),
            ("exclusiveMaximum", self.target.below),
        ):
            if bound is not None:
                schema[keyword] = int(bound) if bound == bound.to_integral_value() else float(bound)
        return schema
