"""The review of a campaign before it is sent: plan -> render -> check, written once and pure.
The CLI (`campaign plan/render/check`), the web app's campaign pages and the outbox's start all
call review_campaign on a plan pipeline.campaigns.loading loaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.campaigns.copy_checks import copy_findings
from pipeline.checks import check_rendered
from pipeline.config import Settings
from pipeline.models import Finding, Plan, RenderedVariant, Segment
from pipeline.render.compile import render_variant


@dataclass(frozen=True)
class Review:
    """A plan, its variants rendered once (by segment, in assignment order) and what the checks
    found (errors block sending)."""

    plan: Plan
    segments: Mapping[str, Segment]
    rendered: Mapping[str, RenderedVariant]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "warning"]


def review_campaign(
    settings: Settings, plan: Plan, segments: Sequence[Segment], *, only: str | None = None
) -> Review:
    """Every variant of the plan rendered and checked; a plan with no variant is one error.
    With `only`, just that segment's variant is rendered (none when the plan has no such
    variant) and nothing is checked: what one preview needs."""
    by_name = {segment.name: segment for segment in segments}
    rendered = {
        variant.segment: render_variant(
            settings, variant, plan.articles, plan.campaign.template, utm=plan.campaign.utm
        )
        for variant in plan.variants
        if only is None or variant.segment == only
    }
    if only is not None:
        return Review(plan, by_name, rendered, ())
    if not plan.variants:
        reasons = "; ".join(s.reason for s in plan.skipped) or "it targets no segment"
        findings = (Finding("-", "error", "plan", f"no variant to send: {reasons}"),)
        return Review(plan, by_name, rendered, findings)
    findings = (
        *(
            finding
            for segment, variant in rendered.items()
            for finding in check_rendered(settings, variant, by_name.get(segment))
        ),
        *copy_findings(settings, plan, list(rendered.values())),
    )
    return Review(plan, by_name, rendered, findings)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as `campaign plan --json` prints it."""
    spec = plan.campaign
    return {
        "campaign": spec.slug,
        "name": spec.name,
        "template": spec.template,
        "articles": [article.slug for article in plan.articles],
        "threshold": plan.threshold,
        "variants": [
            {
                "segment": variant.segment,
                "code": variant.segment_code,
                "audience": variant.audience,
                "score": variant.score,
                "matches": dict(variant.matches),
                "subject": variant.subject,
                "preheader": variant.preheader,
                "intro": variant.intro,
                "cta": variant.cta,
                "excerpt": list(variant.excerpt),
                "articles": list(variant.articles),
            }
            for variant in plan.variants
        ],
        "skipped": [{"segment": s.segment, "reason": s.reason} for s in plan.skipped],
    }
