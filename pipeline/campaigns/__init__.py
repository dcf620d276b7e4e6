"""Campaigns: their files (validated into CampaignSpec) and their sync, their plan (one variant
per segment that fits the article, with its audience), the review (plan -> render -> check) and
the staff actions on a campaign's lifecycle."""

from pipeline.campaigns.document import spec_document, spec_from_document
from pipeline.campaigns.loading import load_plan, plan_by_slug, resolve_campaign_spec
from pipeline.campaigns.plan import (
    DEFAULT_THRESHOLD,
    assignment_segments,
    choose_excerpt,
    plan_campaign,
    segment_assignment_order,
    with_audience,
)
from pipeline.campaigns.spec import (
    campaign_files,
    load_campaign_spec,
    load_campaign_specs,
    parse_campaign_spec,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "assignment_segments",
    "campaign_files",
    "choose_excerpt",
    "load_campaign_spec",
    "load_campaign_specs",
    "load_plan",
    "parse_campaign_spec",
    "plan_by_slug",
    "plan_campaign",
    "resolve_campaign_spec",
    "segment_assignment_order",
    "spec_document",
    "spec_from_document",
    "with_audience",
]
