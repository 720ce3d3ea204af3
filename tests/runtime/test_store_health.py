"""StoreHealth: one log line per change of state, back to ok only on a real answer (a
write, from full or denied), and a probe pause by state (issue 11, items 4 and 9)."""

from __future__ import annotations

import logging

import pytest

from engine.exceptions import StoreDenied, StoreError, StoreFull, StoreUnavailable, store_fault
from engine.executor import StoreHealth


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "huey.executor"]


def test_transient_logs_once_and_recovers_on_any_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    health = StoreHealth()
    health.answered()  # ok stays ok, says nothing
    for _ in range(10):
        health.failed(StoreUnavailable("cannot reach Redis"))
    assert health.state == "transient" and health.pause() <= 0.25
    health.answered()
    health.answered()
    lines = _lines(caplog)
    assert len(lines) == 2
    assert "retrying until it answers" in lines[0] and "reachable again after" in lines[1]


def test_full_ends_only_with_a_write(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    health = StoreHealth()
    health.failed(StoreFull("full"))
    health.answered()  # a claim (allowed when full) is no proof
    health.failed(StoreUnavailable("blip"))  # stays full
    assert health.state == "full"
    health.failed(StoreFull("full"))
    health.answered(wrote=True)
    assert health.state == "ok"
    lines = _lines(caplog)
    assert len(lines) == 2 and "claiming no new work" in lines[0]
    assert "accepts writes again" in lines[1]


def test_denied_names_each_new_command_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    health = StoreHealth()
    for _ in range(3):
        health.failed(StoreDenied("refused the 'evalsha' command", "evalsha"))
    health.failed(StoreDenied("refused the 'hset' command", "hset"))
    health.answered()  # one command answered: not proof that all are allowed
    assert health.state == "denied" and health.pause() >= 1.0
    health.answered(wrote=True)
    assert health.state == "ok"
    assert len(_lines(caplog)) == 3


def test_an_unexpected_error_is_a_state_too(caplog: pytest.LogCaptureFixture) -> None:
    health = StoreHealth()
    health.failed(KeyError("bug"))
    health.failed(KeyError("bug"))
    assert health.state == "error" and len(_lines(caplog)) == 1


def test_store_fault_classes() -> None:
    assert store_fault(StoreUnavailable("x")) == "transient"
    assert store_fault(StoreFull("x")) == "full"
    assert store_fault(StoreDenied("x", "evalsha")) == "denied"
    assert store_fault(StoreError("x")) == "refused"
    assert store_fault(ValueError("x")) is None
