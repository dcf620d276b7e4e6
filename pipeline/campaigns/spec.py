"""Campaign files (`campaigns/<slug>.yaml`): reading them with line numbers, validating them into
CampaignSpec, and the JSON document form a campaign row keeps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.checks import SUBJECT_LIMIT
from pipeline.errors import InputError, NotFoundError, SpecError
from pipeline.models import GENERAL_SEGMENT, CampaignSpec, Segment, SegmentOverride, Utm
from pipeline.render.compile import template_names
from pipeline.segments import SEGMENTS_FILE, load_segments, read_yaml
from pipeline.segments.spec import LinedDict, LinedList
from pipeline.timerules import cron_trigger, local_to_utc, parse_local_time

CAMPAIGNS_DIR = "campaigns"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
TOP_KEYS = (
    "name",
    "article",
    "digest",
    "template",
    "segments",
    "overrides",
    "send_at",
    "cron",
    "utm",
    "threshold",
)
OVERRIDE_KEYS = ("subject", "preheader", "intro", "cta", "excerpt")
UTM_KEYS = ("source", "medium", "campaign", "enabled")
_UTM_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,60}$")


class _File:
    """Where a campaign file's values are, for errors naming the file, line and key."""

    def __init__(self, shown: str):
        self.shown = shown

    def error(self, key: str, message: str, line: int | None) -> SpecError:
        return SpecError(f"{key}: {message}", path=self.shown, line=line)


def campaign_files(workspace: Path) -> list[Path]:
    """The campaign files of the workspace, by name (segments.yaml is not a campaign)."""
    folder = workspace / CAMPAIGNS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in (*folder.glob("*.yaml"), *folder.glob("*.yml"))
        if path.name != SEGMENTS_FILE.name
    )


def load_campaign_specs(
    workspace: Path, zone: ZoneInfo, segments: Sequence[Segment] | None = None
) -> list[CampaignSpec]:
    """Every campaign file, validated (the first problem raises SpecError with file and line)."""
    known = segments if segments is not None else load_segments(workspace)
    return [parse_campaign_spec(path, workspace, zone, known) for path in campaign_files(workspace)]


def load_campaign_spec(
    workspace: Path, slug: str, zone: ZoneInfo, segments: Sequence[Segment] | None = None
) -> CampaignSpec:
    """The campaign `campaigns/<slug>.yaml`, validated."""
    for path in campaign_files(workspace):
        if path.stem == slug:
            known = segments if segments is not None else load_segments(workspace)
            return parse_campaign_spec(path, workspace, zone, known)
    available = ", ".join(path.stem for path in campaign_files(workspace)) or "none"
    raise NotFoundError(
        f"no campaign {slug!r}: there is no {CAMPAIGNS_DIR}/{slug}.yaml (campaigns: {available})"
    )


def parse_campaign_spec(
    path: Path, workspace: Path, zone: ZoneInfo, segments: Sequence[Segment]
) -> CampaignSpec:
    shown = str(path.relative_to(workspace)) if path.is_relative_to(workspace) else str(path)
    where = _File(shown)
    slug = path.stem
    if not SLUG.match(slug):
        raise SpecError(
            "a campaign file's name is its slug: lower-case letters, digits and hyphens",
            path=shown,
        )
    document = read_yaml(path, shown)
    if not isinstance(document, LinedDict):
        raise SpecError(
            "expected a mapping of campaign settings (name:, template:, ...)", path=shown, line=1
        )
    for key in document:
        if key not in TOP_KEYS:
            raise where.error(
                str(key), f"unknown key (known: {', '.join(TOP_KEYS)})", document.lines[key]
            )
    line = document.lines.get
    name = _text(document, "name", where, required=True)
    template = _text(document, "template", where, required=True)
    available = template_names(workspace / "templates")
    if template not in available:
        raise where.error(
            "template",
            f"no template {template!r} (templates/{template}.mjml.j2 and .txt.j2); "
            f"available: {', '.join(available) or 'none'}",
            line("template"),
        )
    article, latest = _content(document, where)
    targets = _targets(document, where, segments)
    targeted = [s.name for s in segments] if targets == "all" else list(targets)
    send_at, cron = _timing(document, where, zone)
    return CampaignSpec(
        slug=slug,
        name=name,
        template=template,
        article=article,
        digest_latest=latest,
        segments=targets,
        overrides=_overrides(document, where, targeted),
        send_at=send_at,
        cron=cron,
        utm=_utm(document, where),
        threshold=_threshold(document, where),
        source_path=shown,
    )


def _text(mapping: LinedDict, key: str, where: _File, *, required: bool = False) -> Any:
    if key not in mapping or mapping[key] is None:
        if required:
            raise where.error(key, "is required", mapping.line)
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, "must be non-empty text", mapping.lines[key])
    return value.strip()


def _content(document: LinedDict, where: _File) -> tuple[str | None, int | None]:
    has_article, has_digest = "article" in document, "digest" in document
    if has_article == has_digest:
        raise where.error(
            "article",
            "give exactly one of `article: <slug>` (one article) or `digest: {latest: N}`",
            document.lines.get("article") or document.lines.get("digest") or document.line,
        )
    if has_article:
        return _text(document, "article", where, required=True), None
    digest = document["digest"]
    line = document.lines["digest"]
    if not isinstance(digest, LinedDict) or set(digest) != {"latest"}:
        raise where.error("digest", "must be `{latest: N}` (at most N new articles)", line)
    latest = digest["latest"]
    if not isinstance(latest, int) or isinstance(latest, bool) or not 1 <= latest <= 20:
        raise where.error(
            "digest.latest", "must be a whole number from 1 to 20", digest.lines["latest"]
        )
    return None, latest


def _targets(
    document: LinedDict, where: _File, segments: Sequence[Segment]
) -> tuple[str, ...] | str:
    value = document.get("segments", "all")
    line = document.lines.get("segments", document.line)
    if value == "all":
        return "all"
    known = [segment.name for segment in segments]
    if not isinstance(value, LinedList) or not value:
        raise where.error("segments", "must be `all` or a list of segment names", line)
    for index, item in enumerate(value):
        if item not in known:
            raise where.error(
                "segments",
                f"unknown segment {item!r} (segments in {SEGMENTS_FILE}: {', '.join(known)})",
                value.lines[index],
            )
    if len(set(value)) != len(value):
        raise where.error("segments", "names a segment twice", line)
    return tuple(value)


def _overrides(
    document: LinedDict, where: _File, targeted: Sequence[str]
) -> dict[str, SegmentOverride]:
    value = document.get("overrides")
    if value is None:
        return {}
    if not isinstance(value, LinedDict):
        raise where.error(
            "overrides", "must map segment names to their overrides", document.lines["overrides"]
        )
    overrides = {}
    for segment, body in value.items():
        key = f"overrides.{segment}"
        if segment not in targeted:
            raise where.error(
                key, f"{segment!r} is not a segment this campaign targets", value.lines[segment]
            )
        if not isinstance(body, LinedDict):
            raise where.error(
                key, f"must be a mapping of {', '.join(OVERRIDE_KEYS)}", value.lines[segment]
            )
        for field in body:
            if field not in OVERRIDE_KEYS:
                raise where.error(
                    f"{key}.{field}",
                    f"unknown key (known: {', '.join(OVERRIDE_KEYS)})",
                    body.lines[field],
                )
        texts = {
            field: _override_text(body, field, f"{key}.{field}", where)
            for field in ("subject", "preheader", "intro", "cta")
        }
        overrides[str(segment)] = SegmentOverride(
            **texts, excerpt=_excerpt(body, f"{key}.excerpt", where)
        )
    return overrides


def _override_text(body: LinedDict, field: str, key: str, where: _File) -> str | None:
    if field not in body:
        return None
    text = body[field]
    if not isinstance(text, str) or not text.strip():
        raise where.error(key, "must be non-empty text", body.lines[field])
    if "\n" in text.strip() and field != "intro":
        raise where.error(key, "must be one line", body.lines[field])
    if field == "subject" and len(text.strip()) > SUBJECT_LIMIT:
        raise where.error(
            key,
            f"is {len(text.strip())} characters; keep it to {SUBJECT_LIMIT}",
            body.lines[field],
        )
    return " ".join(text.split()) if field != "intro" else text.strip()


def _excerpt(body: LinedDict, key: str, where: _File) -> tuple[int, ...] | None:
    if "excerpt" not in body:
        return None
    value = body["excerpt"]
    if (
        not isinstance(value, LinedList)
        or not value
        or not all(
            isinstance(item, int) and not isinstance(item, bool) and item >= 1 for item in value
        )
    ):
        raise where.error(
            key,
            "must list paragraph numbers of the article, counting from 1 (e.g. [1, 3])",
            body.lines["excerpt"],
        )
    return tuple(sorted(set(value)))


def _timing(
    document: LinedDict, where: _File, zone: ZoneInfo
) -> tuple[datetime | None, str | None]:
    if "send_at" in document and "cron" in document:
        raise where.error(
            "cron",
            "give either send_at (once) or cron (recurring), not both",
            document.lines["cron"],
        )
    send_at = None
    if "send_at" in document:
        value, line = document["send_at"], document.lines["send_at"]
        try:
            if isinstance(value, datetime):
                if value.tzinfo is not None:
                    raise where.error(
                        "send_at",
                        f"give the clinic's local time ({zone.key}) without an offset",
                        line,
                    )
                send_at = local_to_utc(value, zone, where="send_at")
            elif isinstance(value, str):
                send_at = parse_local_time(value, zone, where="send_at")
            else:
                raise where.error("send_at", 'must be a local time like "2026-12-01 09:30"', line)
        except SpecError:
            raise
        except InputError as error:
            raise SpecError(error.detail, path=where.shown, line=line) from None
    cron = None
    if "cron" in document:
        value, line = document["cron"], document.lines["cron"]
        if not isinstance(value, str):
            raise where.error("cron", 'must be a cron expression like "0 9 1 * *"', line)
        try:
            cron_trigger(value, zone)
        except InputError as error:
            raise SpecError(error.detail, path=where.shown, line=line) from None
        cron = value.strip()
    return send_at, cron


def _utm(document: LinedDict, where: _File) -> Utm:
    value = document.get("utm")
    if value is None:
        return Utm()
    if not isinstance(value, LinedDict):
        raise where.error(
            "utm", f"must be a mapping of {', '.join(UTM_KEYS)}", document.lines["utm"]
        )
    for key in value:
        if key not in UTM_KEYS:
            raise where.error(
                f"utm.{key}", f"unknown key (known: {', '.join(UTM_KEYS)})", value.lines[key]
            )
        item = value[key]
        if key == "enabled":
            if not isinstance(item, bool):
                raise where.error("utm.enabled", "must be true or false", value.lines[key])
        elif not isinstance(item, str) or not _UTM_VALUE.match(item):
            raise where.error(
                f"utm.{key}",
                "must be 1-60 letters, digits, dots, hyphens or underscores",
                value.lines[key],
            )
    return Utm(**{str(key): item for key, item in value.items()})


def _threshold(document: LinedDict, where: _File) -> float | None:
    if "threshold" not in document:
        return None
    value = document["threshold"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise where.error(
            "threshold",
            "must be a relevance score from 0 up to (not including) 1, e.g. 0.2",
            document.lines["threshold"],
        )
    return float(value)


def targeted_segments(spec: CampaignSpec, segments: Sequence[Segment]) -> list[Segment]:
    """The segments a campaign targets, in segments.yaml's order (general, when targeted, last)."""
    if spec.segments == "all":
        return list(segments)
    wanted = set(spec.segments)
    found = [segment for segment in segments if segment.name in wanted]
    missing = wanted - {segment.name for segment in found}
    if missing:
        raise SpecError(
            f"targets segment {sorted(missing)[0]!r}, which {SEGMENTS_FILE} no longer defines",
            path=spec.source_path,
        )
    return found


def is_general(segment: Segment) -> bool:
    return segment.name == GENERAL_SEGMENT
