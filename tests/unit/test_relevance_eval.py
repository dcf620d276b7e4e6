"""The labelled evaluation set (tests/fixtures/relevance_eval.yaml): relevance must find the
passages written for each segment and leave the others, at 0.9 precision and recall or more."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("relevance_eval", REPO / "bench/relevance_eval.py")
assert _spec and _spec.loader
relevance_eval = importlib.util.module_from_spec(_spec)
# Registered before it runs: its dataclasses look their module up by name.
sys.modules["relevance_eval"] = relevance_eval
_spec.loader.exec_module(relevance_eval)
FIGURES, PASSAGES = relevance_eval.evaluate()


def test_the_set_has_at_least_forty_labelled_passages_each_labelled_for_every_segment() -> None:
    passages = yaml.safe_load(relevance_eval.EVAL_SET.read_text(encoding="utf-8"))["passages"]
    assert PASSAGES == len(passages) >= 40
    for passage in passages:
        labelled = set(passage["relevant"]) | set(passage["not"])
        assert labelled == {"athletes", "desk_workers", "post_op"}, passage["text"]
        assert not set(passage["relevant"]) & set(passage["not"]), passage["text"]


@pytest.mark.parametrize("figures", FIGURES, ids=lambda figures: figures.segment)
def test_precision_and_recall_reach_nine_tenths(figures) -> None:
    assert figures.true_positives >= 5, figures
    assert figures.precision >= 0.9, figures
    assert figures.recall >= 0.9, figures
