"""schemathesis against the app's own schema, in process: no 5xx, every response as the schema says.

Bounded: a few examples per operation, GETs plus the workflow-action POSTs, as a review token;
derandomized so CI is repeatable (run with a random seed by hand to explore further).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

raw = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(raw).include(method=["GET", "POST"]).exclude(
    # Uploads need real image bytes; they are tested directly in test_http.
    path="/api/v1/assets/", method="POST",
)
schema.app = get_wsgi_application()


@pytest.fixture
def _keep_test_connection():
    # The WSGI handler closes the connection after each request; the test's transaction lives on it.
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def bounded_contract(operations):
    """The decorators of a conformance test over ``operations`` (a schemathesis schema): bounded, repeatable.

    A module using it imports ``_keep_test_connection`` too.
    """
    def decorate(test):
        test = settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.generate], derandomize=True,
                        suppress_health_check=list(HealthCheck))(test)
        test = operations.parametrize()(test)
        return pytest.mark.slow(pytest.mark.usefixtures("_keep_test_connection")(test))
    return decorate


def call_as(case, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(checks=CHECKS)


@bounded_contract(schema)
def test_api_conforms_to_its_schema(case, lib):
    call_as(case, lib.tokens["review"])
