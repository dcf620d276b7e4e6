"""A variant compiled once: Jinja2 renders the template's MJML and text (tokens as nonce
placeholders), mrml compiles the MJML to HTML with includes kept inside `templates/`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import mrml
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from pipeline.config import Settings
from pipeline.content import ClinicLinks
from pipeline.errors import TemplateError
from pipeline.models import Article, RenderedVariant, Utm, Variant
from pipeline.render.tokens import new_placeholders

TEMPLATES_DIR = "templates"
MJML_SUFFIX = ".mjml.j2"
TEXT_SUFFIX = ".txt.j2"
LANGUAGE = "en"
_EXTENDS_LAYOUT = re.compile(r"\{%-?\s*extends\s+[\"']layout\.mjml\.j2[\"']")
# The footer's line saying why the client gets this email.
REASON = (
    "You are receiving this email because you are a client of {clinic} and agreed to hear "
    "from us about treatments and advice. You can unsubscribe or choose what you hear about "
    "at any time."
)


# After the preheader: characters that show as nothing (a combining grapheme joiner, a
# zero-width non-joiner and a no-break space), so inbox previews end with the preheader instead
# of running on into the body. Broken into lines that keep the HTML part 7-bit.
_FILLER_UNIT = "&#847;&zwnj;&nbsp;"
PREHEADER_FILLER = Markup("\n".join([_FILLER_UNIT * 15] * 8))


@lru_cache(maxsize=8)
def _environments(
    templates: str,
) -> tuple[ImmutableSandboxedEnvironment, ImmutableSandboxedEnvironment]:
    """The MJML environment (autoescaped) and the text environment (not: it is plain text).
    Both are sandboxed and fail on any undefined name; the loader never leaves `templates`."""
    loader = FileSystemLoader(templates)
    mjml_env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("mjml.j2",), default=True),
        keep_trailing_newline=True,
    )
    text_env = ImmutableSandboxedEnvironment(
        loader=loader, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    return mjml_env, text_env


def templates_dir(settings: Settings) -> Path:
    return settings.path(TEMPLATES_DIR)


def template_names(templates: Path) -> list[str]:
    """The templates a campaign can name: `<name>.mjml.j2` files at the top of templates/ that
    extend the shared layout and have a `<name>.txt.j2` beside them (the layout, partials and
    mail that is not a campaign, such as the owner's report, are not campaign templates)."""
    names = []
    for path in sorted(templates.glob(f"*{MJML_SUFFIX}")):
        name = path.name.removesuffix(MJML_SUFFIX)
        if (templates / f"{name}{TEXT_SUFFIX}").is_file() and _EXTENDS_LAYOUT.search(
            path.read_text(encoding="utf-8")
        ):
            names.append(name)
    return names


def with_utm(url: str, utm: Utm, campaign: str, segment_code: str) -> str:
    """`url` with utm_source/medium/campaign/content added; utm_content is the segment's opaque
    code, never its name. Parameters the link already has are kept."""
    if not utm.enabled:
        return url
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if not key.startswith("utm_")]
    query += [
        ("utm_source", utm.source),
        ("utm_medium", utm.medium),
        ("utm_campaign", utm.campaign or campaign),
        ("utm_content", segment_code),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def article_url(settings: Settings, article: Article) -> str:
    return ClinicLinks.from_settings(settings).article_url(article.slug, article.canonical_url)


def _cards(
    settings: Settings, articles: Sequence[Article], utm: Utm, variant: Variant
) -> list[dict[str, Any]]:
    return [
        {
            "title": article.title,
            "summary": article.summary,
            "url": with_utm(
                article_url(settings, article), utm, variant.campaign, variant.segment_code
            ),
            "image": article.hero_image,
            "image_alt": article.hero_alt or article.title,
        }
        for article in articles
    ]


def _ordered(variant: Variant, articles: Sequence[Article]) -> list[Article]:
    """The articles in the variant's order (most relevant to its segment first)."""
    if not variant.articles:
        return list(articles)
    by_slug = {article.slug: article for article in articles}
    return [by_slug[slug] for slug in variant.articles if slug in by_slug]


def template_context(
    settings: Settings,
    variant: Variant,
    articles: Sequence[Article],
    tokens: Mapping[str, str],
    utm: Utm,
) -> dict[str, Any]:
    """What every template sees. `token.<name>` is a placeholder filled per recipient."""
    if not articles:
        raise TemplateError(f"campaign {variant.campaign!r} has no article to render")
    ordered = _ordered(variant, articles) or list(articles)
    lead = ordered[0]
    clinic = settings.clinic
    track = {"utm": utm, "campaign": variant.campaign, "segment_code": variant.segment_code}
    return {
        "lang": LANGUAGE,
        "clinic": {
            "name": clinic.name,
            "postal_address": clinic.postal_address,
            "logo_url": clinic.logo_url,
            "brand_colour": clinic.brand_colour,
        },
        "subject": variant.subject,
        "preheader": variant.preheader,
        "preheader_filler": PREHEADER_FILLER,
        "intro": variant.intro,
        "cta": variant.cta,
        "excerpt": list(variant.excerpt),
        "heading": f"Recent articles from {clinic.name}",
        "article": {
            "title": lead.title,
            "summary": lead.summary,
            "hero_image": lead.hero_image,
            "hero_alt": lead.hero_alt or lead.title,
        },
        "cards": _cards(settings, ordered, utm, variant),
        "links": {
            "website": with_utm(clinic.website, **track),
            "booking": with_utm(clinic.booking_url, **track),
            "read_more": with_utm(article_url(settings, lead), **track),
        },
        "reason": REASON.format(clinic=clinic.name),
        "token": dict(tokens),
    }


def _render(
    environment: ImmutableSandboxedEnvironment, name: str, context: Mapping[str, Any], root: Path
) -> str:
    try:
        return environment.get_template(name).render(context)
    except TemplateSyntaxError as error:
        raise TemplateError(
            f"template syntax: {error.message}",
            path=str(root / (error.name or name)),
            line=error.lineno,
        ) from None
    except TemplateNotFound as error:
        raise TemplateError(
            f"no template {error.name!r} in {root}: a campaign's template names "
            f"<name>{MJML_SUFFIX} and <name>{TEXT_SUFFIX} there"
        ) from None
    except JinjaTemplateError as error:
        raise TemplateError(f"cannot render: {error}", path=str(root / name)) from None


# Where a line of compiled HTML may be broken without changing what it shows: before a
# block-level tag or a comment, where the whitespace a line break adds is never rendered.
_BLOCK_BOUNDARY = re.compile(r"<(?=/?(?:div|table|tbody|tr|td|th|p|h[1-6]|ul|ol|li)\b|!--)", re.I)
# Lines of the compiled HTML are kept to this, leaving room for the recipient's values, so the
# HTML part can travel as 7-bit text (SMTP's limit is 998) instead of base64.
HTML_LINE_LIMIT = 700


def fold_long_lines(html: str, limit: int = HTML_LINE_LIMIT) -> str:
    """mrml writes the body as one long line; break it before block-level tags (or, inside a
    very long paragraph, at a space) so that no line passes `limit` where that can be done."""
    folded: list[str] = []
    for line in html.split("\n"):
        while len(line) > limit:
            cuts = [m.start() for m in _BLOCK_BOUNDARY.finditer(line, 1, limit + 1)]
            cut = cuts[-1] if cuts else line.rfind(" ", 1, limit + 1)
            if cut <= 0:
                break
            folded.append(line[:cut])
            line = line[cut:]
        folded.append(line)
    return "\n".join(folded)


def compile_mjml(source: str, templates: Path, name: str) -> str:
    """HTML from MJML with mrml; `<mj-include>` paths resolve inside `templates` only."""
    options = mrml.ParserOptions(include_loader=mrml.local_loader(str(templates)))
    try:
        output = mrml.to_html(
            source,
            parser_options=options,
            render_options=mrml.RenderOptions(disable_comments=True),
        )
    except Exception as error:  # mrml raises bare OSError/ValueError with its own message
        raise TemplateError(f"MJML does not compile: {error}", path=str(templates / name)) from None
    return fold_long_lines(output.content)


def render_mjml(settings: Settings, template: str, context: Mapping[str, Any]) -> str:
    """The template's MJML after Jinja (what the MJML validator checks)."""
    root = templates_dir(settings)
    mjml_env, _ = _environments(str(root))
    return _render(mjml_env, template + MJML_SUFFIX, context, root)


def render_variant(
    settings: Settings,
    variant: Variant,
    articles: Sequence[Article],
    template: str,
    *,
    utm: Utm | None = None,
) -> RenderedVariant:
    """The variant's HTML and text, rendered and compiled once, with recipient tokens left as
    placeholders (see RenderedVariant)."""
    root = templates_dir(settings)
    mjml_env, text_env = _environments(str(root))
    placeholders = new_placeholders()
    context = template_context(settings, variant, articles, placeholders, utm or Utm())
    source = _render(mjml_env, template + MJML_SUFFIX, context, root)
    html = compile_mjml(source, root, template + MJML_SUFFIX)
    text = _render(text_env, template + TEXT_SUFFIX, context, root)
    return RenderedVariant(
        campaign=variant.campaign,
        segment=variant.segment,
        segment_code=variant.segment_code,
        subject=variant.subject,
        preheader=variant.preheader,
        html=html,
        text=text,
        html_tokens={name: value for name, value in placeholders.items() if value in html},
        text_tokens={name: value for name, value in placeholders.items() if value in text},
    )


def render_email(settings: Settings, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(HTML, text) of any email template (`<template>.mjml.j2` and `.txt.j2` in templates/)
    with the caller's own context: for mail that is not a campaign, such as the owner's report."""
    root = templates_dir(settings)
    mjml_env, text_env = _environments(str(root))
    source = _render(mjml_env, template + MJML_SUFFIX, context, root)
    html = compile_mjml(source, root, template + MJML_SUFFIX)
    return html, _render(text_env, template + TEXT_SUFFIX, context, root)
