"""Typed errors of evaluation runs."""

from __future__ import annotations

from psionic.core.errors import InvalidInput, PsionicError


class EndpointError(PsionicError):
    """The endpoint answered with an error status or a body that is not a chat completion."""

    code = "endpoint_error"
    http_status = 502


class EndpointTimeout(EndpointError):
    code = "endpoint_timeout"
    http_status = 504


class EndpointUnreachable(EndpointError):
    code = "endpoint_unreachable"
    http_status = 503


class SampleTimeout(PsionicError):
    """A sample took longer than the run's per-sample limit."""

    code = "sample_timeout"
    http_status = 504


class RunConflict(InvalidInput):
    """An output folder holds another run, or ``--resume`` was asked of a run with other settings."""

    code = "run_conflict"


class MalformedReport(InvalidInput):
    code = "malformed_report"


class IncomparableReports(InvalidInput):
    """Two reports that did not run the same package content cannot be paired."""

    code = "incomparable_reports"
