"""Precision and recall of article relevance per segment, on the labelled passages of
tests/fixtures/relevance_eval.yaml, scored with the shipped campaigns/segments.yaml: a passage
counts as relevant to a segment when its score reaches the default campaign threshold.

    .venv/bin/python bench/relevance_eval.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.campaigns.plan import DEFAULT_THRESHOLD
from pipeline.models import Article, Block
from pipeline.segments import parse_segments, score_article

REPO = Path(__file__).resolve().parent.parent
EVAL_SET = REPO / "tests" / "fixtures" / "relevance_eval.yaml"
SEGMENTS = REPO / "campaigns" / "segments.yaml"


@dataclass(frozen=True)
class Figures:
    segment: str
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    labelled: int


def passage_article(text: str) -> Article:
    """One passage as an article with no title, so that only its own words count."""
    return Article(
        slug="passage", title="", summary="", published=None, tags=(), canonical_url=None,
        hero_image=None, blocks=(Block("paragraph", text),), ctas=(), word_count=len(text.split()),
    )  # fmt: skip


def evaluate(
    eval_set: Path = EVAL_SET, segments_file: Path = SEGMENTS
) -> tuple[list[Figures], int]:
    passages = yaml.safe_load(eval_set.read_text(encoding="utf-8"))["passages"]
    segments = [s for s in parse_segments(segments_file) if s.rule is not None]
    counts = {s.name: [0, 0, 0, 0] for s in segments}
    for passage in passages:
        scores = score_article(passage_article(passage["text"]), segments)
        for segment in segments:
            relevant = segment.name in passage["relevant"]
            if not relevant and segment.name not in passage["not"]:
                continue
            predicted = scores[segment.name].score >= DEFAULT_THRESHOLD
            tally = counts[segment.name]
            tally[0] += relevant and predicted
            tally[1] += predicted and not relevant
            tally[2] += relevant and not predicted
            tally[3] += 1
    figures = [
        Figures(
            name,
            precision=tp / (tp + fp) if tp + fp else 1.0,
            recall=tp / (tp + fn) if tp + fn else 1.0,
            true_positives=tp,
            false_positives=fp,
            false_negatives=fn,
            labelled=labelled,
        )
        for name, (tp, fp, fn, labelled) in counts.items()
    ]
    return figures, len(passages)


def main() -> None:
    figures, passages = evaluate()
    print(f"{passages} labelled passages; relevant when the score reaches {DEFAULT_THRESHOLD}")
    print("| segment | precision | recall | true pos. | false pos. | false neg. | labelled |")
    print("|---|---|---|---|---|---|---|")
    for f in figures:
        print(
            f"| {f.segment} | {f.precision:.2f} | {f.recall:.2f} | {f.true_positives} | "
            f"{f.false_positives} | {f.false_negatives} | {f.labelled} |"
        )


if __name__ == "__main__":
    main()
