"""The publish package of an approved video: ``exports/<video_id>/`` in the artifact store.

It holds everything a person (or an uploader) needs for any channel: the MP4 (with an
AI-generated-content disclosure in its container metadata), captions (SRT, WebVTT), a
thumbnail (the presenter's face, eyes open, the headline drawn over the caption band; see
:mod:`tasks.publish.thumbnail`), the general ``metadata.json`` and one JSON per platform
(YouTube, TikTok,
Instagram) with a title, description and hashtags fitted to that platform's limits. Every
description ends with the disclosure and every platform JSON flags the video as AI-made.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.errors import InputError
from novaavatar.media import _tail, ffmpeg_quiet
from novaavatar.store import ArtifactStore
from tasks.publish.thumbnail import thumbnail_jpeg
from tasks.script.grounding import NUMBER_WORDS

DISCLOSURE = (
    "AI-generated content: the presenter, voice and script of this video were made with AI "
    "(NovaAvatar) from the cited news source, and reviewed by a person before publishing."
)
DISCLOSURE_LABEL = "AI-generated"
SAMPLE_NOTICE = (
    "SAMPLE — not real news: this story is bundled fiction for trying NovaAvatar out; "
    "it must not be published."
)
PLATFORMS = ("youtube", "tiktok", "instagram")


@dataclass(frozen=True)
class PlatformLimits:
    """What a platform accepts, in characters (code points)."""

    title: int
    description: int
    hashtags: int


# YouTube: title 100, description 5000 (and no '<' '>'), more than 60 hashtags voids them
# all; TikTok and Instagram: a 2200-character caption, Instagram at most 30 hashtags and
# shows ~125 characters before "more".
LIMITS = {
    "youtube": PlatformLimits(title=100, description=5000, hashtags=8),
    "tiktok": PlatformLimits(title=150, description=2200, hashtags=6),
    "instagram": PlatformLimits(title=125, description=2200, hashtags=30),
}
YOUTUBE_TAGS_CHARS = 500  # snippet.tags, all together


@dataclass(frozen=True)
class Package:
    """Where a video's package lies and what YouTube is sent for it."""

    prefix: str
    keys: tuple[str, ...]
    youtube_body: dict[str, Any]


def fit(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary with "…" when longer than ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def hashtags(words: list[str] | tuple[str, ...], limit: int) -> list[str]:
    """``#CamelCase`` tags from keywords: letters and digits of any script, no duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for word in words:
        parts = re.findall(r"[^\W_]+", unicodedata.normalize("NFC", word))
        tag = "".join(p[:1].upper() + p[1:] for p in parts)
        if not tag or tag.isdigit() or tag.casefold() in seen or len(tag) > 60:
            continue
        seen.add(tag.casefold())
        out.append(f"#{tag}")
        if len(out) == limit:
            break
    return out


# counting words make poor hashtags ("#Six"); keywords are lower case, as scripts give them
_NUMBER_WORDS = frozenset(NUMBER_WORDS)


def _keywords(m: VideoManifest) -> list[str]:
    """The words hashtags are made of: the script's keywords, two that stand side by side in
    the script as one ("rainfall model" → #RainfallModel), counting words left out, then the
    item's tags. The keywords are the script's topic, not the words of its title."""
    words = [
        k for k in (m.script.keywords if m.script else ()) if k.casefold() not in _NUMBER_WORDS
    ]
    text = " ".join(m.script.text.casefold().split()) if m.script else ""
    out: list[str] = []
    used: set[str] = set()
    for k in words:
        if k in used:
            continue
        for o in words:
            if o in used or o == k:
                continue
            pair = next(
                (
                    f"{a} {b}"
                    for a, b in ((k, o), (o, k))
                    if re.search(rf"(?<!\w){re.escape(f'{a} {b}'.casefold())}(?!\w)", text)
                ),
                None,
            )
            if pair is not None:
                out.append(pair)
                used |= {k, o}
                break
        else:
            out.append(k)
            used.add(k)
    return out + [t for t in m.item.tags if t.casefold() not in {w.casefold() for w in out}]


def _language(m: VideoManifest) -> str:
    return m.script.language if m.script else m.options.language


def _title(m: VideoManifest) -> str:
    return (m.script.title if m.script and m.script.title else "") or m.item.title


def _summary(m: VideoManifest) -> str:
    return m.item.summary or (m.script.text if m.script else "")


def _clock(t: float) -> str:
    t = int(t)
    return (
        f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60}:{t % 60:02d}"
    )


def youtube_chapters(m: VideoManifest) -> str:
    """An explainer's chapters as YouTube reads them from a description (``0:00 Title`` lines:
    at least three, the first at 0:00, each at least 10 s long), or "" when they do not fit."""
    chapters = getattr(m.final, "chapters", ()) if m.final else ()
    if len(chapters) < 3 or any(c.end - c.start < 10 for c in chapters):
        return ""
    lines = [f"{_clock(0 if i == 0 else c.start)} {c.title}" for i, c in enumerate(chapters)]
    return "Chapters:\n" + "\n".join(lines)


def _description(
    m: VideoManifest, limit: int, tags: list[str], sep: str = "\n\n", chapters: str = ""
) -> str:
    """Summary, chapters, source, hashtags, disclosure; only the summary is shortened."""
    source = f"Source: {m.item.source}" + (f" — {m.item.url}" if m.item.url else "")
    tail = [chapters, source, " ".join(tags), DISCLOSURE, SAMPLE_NOTICE if m.item.sample else ""]
    fixed = sep.join(t for t in tail if t)
    room = limit - len(fixed) - len(sep)
    body = fit(_summary(m), room) if room > 20 else ""
    return sep.join(t for t in [body, fixed] if t)


def _no_angles(text: str) -> str:
    return text.replace("<", "‹").replace(">", "›")  # YouTube refuses '<' and '>'


def youtube_body(m: VideoManifest, privacy: str, category: str) -> dict[str, Any]:
    """The ``videos.insert`` resource: snippet and status, disclosure included."""
    lim = LIMITS["youtube"]
    tags = hashtags(_keywords(m), lim.hashtags)
    plain_tags: list[str] = []
    for t in [t.lstrip("#") for t in hashtags(_keywords(m), 50)]:
        if sum(len(x) + 1 for x in plain_tags) + len(t) > YOUTUBE_TAGS_CHARS:
            break
        plain_tags.append(t)
    lang = _language(m)
    return {
        "snippet": {
            "title": _no_angles(fit(_title(m), lim.title)),
            "description": _no_angles(
                _description(m, lim.description, tags, chapters=youtube_chapters(m))
            ),
            "tags": plain_tags,
            "categoryId": category,
            "defaultLanguage": lang,
            "defaultAudioLanguage": lang,
        },
        "status": {
            "privacyStatus": privacy,
            "selfDeclaredMadeForKids": False,
            "containsSyntheticMedia": True,  # YouTube's altered/synthetic content disclosure
            "embeddable": True,
            "license": "youtube",
        },
    }


def platform_metadata(m: VideoManifest, privacy: str, category: str) -> dict[str, dict[str, Any]]:
    """One JSON document per platform, each carrying the disclosure as text and as fields."""
    lang = _language(m)
    yt = youtube_body(m, privacy, category)
    out: dict[str, dict[str, Any]] = {
        "youtube": {
            "platform": "youtube",
            "title": yt["snippet"]["title"],
            "description": yt["snippet"]["description"],
            "hashtags": hashtags(_keywords(m), LIMITS["youtube"].hashtags),
            "language": lang,
            "ai_generated": True,
            "disclosure": DISCLOSURE,
            "disclosure_label": DISCLOSURE_LABEL,
            "likeness": likeness(m),
            "sample": m.item.sample,
            "request_body": yt,  # what `videos.insert` is sent (part=snippet,status)
        }
    }
    for name in ("tiktok", "instagram"):
        lim = LIMITS[name]
        tags = hashtags(_keywords(m), lim.hashtags)
        # the first line is what shows before "more": the label goes there too
        title = fit(_title(m), lim.title - len(DISCLOSURE_LABEL) - 3)
        first = f"{title} ({DISCLOSURE_LABEL})"
        caption = _description(m, lim.description - len(first) - 2, tags)
        doc: dict[str, Any] = {
            "platform": name,
            "title": title,
            "caption": f"{first}\n\n{caption}",
            "hashtags": tags,
            "language": lang,
            "ai_generated": True,
            "disclosure": DISCLOSURE,
            "disclosure_label": DISCLOSURE_LABEL,
            "likeness": likeness(m),
            "sample": m.item.sample,
        }
        if name == "tiktok":  # Content Posting API post_info; is_aigc is TikTok's AI label
            doc["post_info"] = {
                "title": doc["caption"],
                "privacy_level": "SELF_ONLY" if privacy == "private" else "PUBLIC_TO_EVERYONE",
                "is_aigc": True,
            }
        else:
            doc["media_type"] = "REELS"
        out[name] = doc
    return out


def likeness(m: VideoManifest) -> dict[str, object]:
    """Who is shown and on whose word: each portrait's consent (who attested, when), or the
    drawn presenter, which needs none. Exported beside the AI disclosure; the host's
    presenter profile (``name@version``) when the video was made with one."""
    profile = {"host": {"profile": m.options.presenter}} if m.options.presenter else {}
    return {
        "presenters": {
            role: profile.get(role, {})
            | (
                {
                    "portrait": "photo",
                    "consent": {
                        "by": c.by,
                        "at": c.at.isoformat(),
                        "via": c.via,
                        "statement": c.statement,
                    },
                }
                if (c := m.consents.get(role)) is not None
                else {"portrait": "drawn", "consent": None}
            )
            for role in (("host", "guest") if m.options.format == "conversation" else ("host",))
        }
    }


def export_metadata(m: VideoManifest) -> dict[str, object]:
    """What a publisher needs; no secrets, no absolute paths."""
    approval = next((e for e in reversed(m.history) if e.state is ReviewState.APPROVED), None)
    return {
        "video_id": m.video_id,
        "title": m.item.title,
        "source": m.item.source,
        "source_url": m.item.url,
        "script": m.script.text if m.script else "",
        "language": _language(m),
        "style": m.options.style,
        "format": m.options.format,
        "aspect": m.options.aspect,
        "duration_s": m.final.duration_s if m.final else None,
        "keywords": list(m.script.keywords) if m.script else [],
        "approved_by": approval.by if approval else None,
        "approved_at": approval.at.isoformat() if approval else None,
        "ai_generated": True,
        "disclosure": DISCLOSURE,
        "likeness": likeness(m),
        "sample": m.item.sample,
        **({"sample_notice": SAMPLE_NOTICE} if m.item.sample else {}),
        "platforms": [f"{p}.json" for p in PLATFORMS],
        "providers": {name: r.provider for name, r in m.stages.items()},
    }


def with_disclosure(src: Path, dest: Path, title: str) -> Path:
    """Copy ``src`` to ``dest`` with the disclosure in its container metadata (no re-encode)."""
    cmd = [
        *ffmpeg_quiet(),
        "-y",
        "-i",
        str(src),
        "-map",
        "0",
        "-c",
        "copy",
        "-map_metadata",
        "0",
        "-metadata",
        f"title={title}",
        "-metadata",
        f"comment={DISCLOSURE}",
        "-metadata",
        f"description={DISCLOSURE}",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(dest),
    ]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0 or not dest.is_file() or dest.stat().st_size == 0:
        raise InputError(f"cannot copy {src.name} into the publish package: {_tail(res.stderr)}")
    return dest


def write_package(store: ArtifactStore, m: VideoManifest, privacy: str, category: str) -> Package:
    """Write ``exports/<video_id>/``; the caller has checked that the video may be published."""
    if m.final is None:
        raise InputError(f"video {m.video_id} has no final video to publish")
    base = f"exports/{m.video_id}"
    title = fit(_title(m), LIMITS["youtube"].title)
    platforms = platform_metadata(m, privacy, category)
    with tempfile.TemporaryDirectory(prefix="novaavatar-publish-") as tmp:
        mp4 = with_disclosure(store.materialize(m.final.key), Path(tmp) / "video.mp4", title)
        keys = [
            store.put_file(f"{base}/video.mp4", mp4, "video/mp4"),
            store.put_bytes(f"{base}/thumbnail.jpg", _thumbnail(store, m, mp4), "image/jpeg"),
        ]
    chapters_key = getattr(m.final, "chapters_key", None)
    if chapters_key:  # an explainer's chapters, for players and editors that read them
        keys.append(store.put_bytes(f"{base}/chapters.vtt", store.get_bytes(chapters_key)))
    keys += [
        store.put_bytes(f"{base}/captions.srt", store.get_bytes(m.final.srt_key)),
        store.put_bytes(f"{base}/captions.vtt", store.get_bytes(m.final.vtt_key)),
        store.put_bytes(f"{base}/metadata.json", _json(export_metadata(m)), "application/json"),
    ]
    for name, doc in platforms.items():
        keys.append(store.put_bytes(f"{base}/{name}.json", _json(doc), "application/json"))
    return Package(prefix=base, keys=tuple(keys), youtube_body=platforms["youtube"]["request_body"])


def _thumbnail(store: ArtifactStore, m: VideoManifest, mp4: Path) -> bytes:
    """A frame with the presenter's face, eyes open, and the headline over the caption band."""
    assert m.final is not None
    srt = store.get_bytes(m.final.srt_key).decode("utf-8", "replace")
    jpeg, _ = thumbnail_jpeg(mp4, _title(m), srt, intro_s=m.final.intro_s, outro_s=m.final.outro_s)
    return jpeg


def _json(obj: object) -> bytes:
    return json.dumps(obj, indent=2, ensure_ascii=False).encode()
