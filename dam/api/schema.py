"""The OpenAPI side of the base: every operation lists the problem responses it can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from dam.api.errors import PROBLEM_MIME


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    instance = serializers.CharField()
    errors = serializers.ListField(child=serializers.DictField(child=serializers.CharField()), required=False)
    retry_after = serializers.IntegerField(required=False)


class ProblemAutoSchema(AutoSchema):
    """Puts the problem responses every operation can give into the schema (it is the contract)."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        bodies = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "406", "429", "500"]
        if self.method not in ("GET", "HEAD"):
            codes += ["409", "412", "415", "422", "428"]
        for code in codes:
            bodies.setdefault(code, self._get_response_for_code(ProblemSerializer, code, (PROBLEM_MIME,)))
        if self.method == "GET" and "{" in self.path:
            bodies.setdefault("304", {"description": "Not modified (If-None-Match matched the ETag)."})
        return bodies


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dam.api.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (bf_<prefix>_<secret>) from the admin or `manage.py dam_token create`.",
        }
