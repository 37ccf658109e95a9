"""drf-spectacular extensions: Gamify's authentication schemes, as the OpenAPI schema
describes them."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.auth.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant API key (scopes ingest, read, manage) or a widget token",
        }


class ManagerSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.auth.ManagerSessionAuthentication"
    name = "managerSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A manager's admin session; pick the tenant with X-Gamify-Tenant",
        }
