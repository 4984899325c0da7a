"""The service keeps to its own description: schemathesis calls every route of /openapi.json with requests made
from the description, valid ones and broken ones (a bounded number of each), and checks that no answer is a server
error and that every answer's status, content type and body are the ones described.

The operations are read from the running service's description inside the test (schemathesis' lazy pytest
loader does not run under this pytest), each turned into a hypothesis strategy of requests."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from serve_helpers import no_traceback

pytestmark = pytest.mark.slow  # the fixtures train three models and start a service

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Requests per operation and kind (valid, broken).
EXAMPLES = 12


@pytest.fixture(scope="module")
def operations(base_url: str) -> list[schemathesis.APIOperation]:
    described = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    return [result.ok() for result in described.get_all_operations()]


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_every_answer_is_as_described(operations: list[schemathesis.APIOperation], mode) -> None:
    assert len(operations) > 25
    for operation in operations:
        if mode is schemathesis.GenerationMode.NEGATIVE and not len(operation.body):
            continue  # nothing to break in a request without a body

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_described(case: schemathesis.Case) -> None:
            response = case.call_and_validate(checks=CHECKS, timeout=60)
            assert no_traceback(response.text)

        answers_as_described()
