"""A CampaignSpec as JSON-able data: what a campaign row keeps in `campaigns.spec`, and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.models import CampaignSpec, SegmentOverride, Utm


def spec_document(spec: CampaignSpec) -> dict[str, Any]:
    """The spec as JSON-able data (what a campaign row stores); `spec_from_document` reverses it."""
    return {
        "slug": spec.slug,
        "name": spec.name,
        "template": spec.template,
        "article": spec.article,
        "digest_latest": spec.digest_latest,
        "articles": list(spec.articles),
        "segments": spec.segments if spec.segments == "all" else list(spec.segments),
        "overrides": {
            segment: {
                "subject": override.subject,
                "preheader": override.preheader,
                "intro": override.intro,
                "excerpt": None if override.excerpt is None else list(override.excerpt),
                # Only when set: documents stored before calls to action could be overridden
                # stay equal, so an approved campaign does not read as changed.
                **({"cta": override.cta} if override.cta else {}),
            }
            for segment, override in spec.overrides.items()
        },
        "send_at": spec.send_at.isoformat() if spec.send_at else None,
        "cron": spec.cron,
        "utm": {
            "source": spec.utm.source,
            "medium": spec.utm.medium,
            "campaign": spec.utm.campaign,
            "enabled": spec.utm.enabled,
        },
        "threshold": spec.threshold,
        "source_path": spec.source_path,
    }


def spec_from_document(document: Mapping[str, Any]) -> CampaignSpec:
    segments = document.get("segments", "all")
    return CampaignSpec(
        slug=document["slug"],
        name=document["name"],
        template=document["template"],
        article=document.get("article"),
        digest_latest=document.get("digest_latest"),
        articles=tuple(document.get("articles") or ()),
        segments="all" if segments == "all" else tuple(segments),
        overrides={
            segment: SegmentOverride(
                subject=body.get("subject"),
                preheader=body.get("preheader"),
                intro=body.get("intro"),
                cta=body.get("cta"),
                excerpt=None if body.get("excerpt") is None else tuple(body["excerpt"]),
            )
            for segment, body in (document.get("overrides") or {}).items()
        },
        send_at=datetime.fromisoformat(document["send_at"]) if document.get("send_at") else None,
        cron=document.get("cron"),
        utm=Utm(**(document.get("utm") or {})),
        threshold=document.get("threshold"),
        source_path=document.get("source_path"),
    )
