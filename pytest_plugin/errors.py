"""Errors of the record/replay plugin.

::

    ResplayError                    base of the plugin's ordinary errors
     +-- CassetteFormatError        a cassette file that cannot be read (names the file and why)
     +-- UnusedInteractions         recorded interactions a test never played (teardown)
     +-- ResplayCheckError          server-side problems collected during a test (``resplay.check()``)
    CassetteMismatch (pytest's Failed, a BaseException)
                                    a request the cassette cannot answer in replay

``CassetteMismatch`` derives from pytest's ``Failed`` on purpose: HTTP clients such as the openai SDK
catch ``Exception`` around their transport and retry (with sleeps) before wrapping the cause in
``APIConnectionError("Connection error.")``. Failing closed must show *why* at once, so the error goes
straight through the client like ``pytest.fail()`` does.
"""

from __future__ import annotations

from _pytest.outcomes import Failed

__all__ = [
    "CassetteFormatError",
    "CassetteMismatch",
    "ResplayCheckError",
    "ResplayError",
    "UnusedInteractions",
]


class ResplayError(Exception):
    """Base class of the plugin's errors (except :class:`CassetteMismatch`)."""


class CassetteFormatError(ResplayError):
    """A cassette file is not valid YAML or not a cassette resplay knows how to read."""


class UnusedInteractions(ResplayError):
    """A replayed test left recorded interactions unplayed (opt out with ``allow_unused=True``)."""


class ResplayCheckError(ResplayError):
    """``resplay.check()`` found server-side problems (crashes, unused scripted replies, mismatches)."""


class CassetteMismatch(Failed):
    """In replay, a request that no recorded interaction answers (fail closed).

    The message names the cassette, the request, the closest recorded request and the difference.
    """
