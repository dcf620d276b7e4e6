"""Unit tests for how a batch's results are grouped for recording and when a retry happens."""

from datetime import timedelta

from pipeline.models import SendResult, group_results
from pipeline.outbox.drain import LONGEST_BACKOFF_SECONDS, retry_delay


def test_results_group_by_outcome_and_details_in_order() -> None:
    results = [
        SendResult(3, "sent", provider_message_id="m1"),
        SendResult(1, "retry", reason="429", retry_after=30),
        SendResult(2, "sent", provider_message_id="m1"),
        SendResult(5, "retry", reason="429", retry_after=60),
        SendResult(4, "failed", reason="invalid address"),
    ]
    assert group_results(results) == {
        ("sent", "m1", None, None): [3, 2],
        ("retry", None, "429", 30): [1],
        ("retry", None, "429", 60): [5],
        ("failed", None, "invalid address", None): [4],
    }
    assert group_results([]) == {}


def test_a_retry_waits_as_long_as_the_provider_asked_else_backs_off() -> None:
    asked = group_results(
        [SendResult(1, "retry", retry_after=30), SendResult(2, "retry", retry_after=90)]
    )
    assert retry_delay(asked, attempts=1) == timedelta(seconds=90)
    silent = group_results([SendResult(1, "retry", reason="503")])
    assert retry_delay(silent, attempts=3) == timedelta(seconds=8)
    assert retry_delay(silent, attempts=30) == timedelta(seconds=LONGEST_BACKOFF_SECONDS)
