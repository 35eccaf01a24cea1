"""Brand templates: a named, versioned look (fonts, colours, logo, lower third, intro/outro
cards, caption style, layout, presenter and voice) that a video is made with.

A template is a TOML (or YAML) file. Shipped ones live in the top-level ``templates/``
folder (``news``, ``explainer``, ``shorts``); users add versions to the artifact store as
``templates/<name>/<version>.toml`` (store keys have no '@'). A reference is ``name``
(its newest version) or
``name@version``; a video records the exact ``name@version`` it was made with, so a new
version never changes a video made with an older one.

Precedence where options are built (:func:`build_options`): an option the user set
explicitly wins, else the template's value, else the settings' default (DEFAULT_STYLE...),
else ProduceOptions' default. ``none`` as the
template means the plain look (no logo, lower third or cards; ``template`` stays None).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from novaavatar.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from novaavatar.domain import ContentItem, ProduceOptions
    from novaavatar.settings import Settings
    from novaavatar.store import ArtifactStore

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STORE_PREFIX = "templates/"
# The format's template when a run names none; shorts suits 9:16 social clips.
FORMAT_DEFAULTS = {"single": "news", "explainer": "explainer", "conversation": "news"}
# ProduceOptions fields a template fills when the user left them unset.
TEMPLATE_FIELDS = ("layout", "caption_style", "portrait_key", "voice")
NO_TEMPLATE = "none"  # a run's `template` for the plain look: no logo, lower third or cards
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}\Z")
_REF_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,39})(?:@(?P<version>[1-9][0-9]{0,5}))?\Z")
_FAMILY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _\-]{0,59}\Z")
_COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\Z")
MAX_TEMPLATE_BYTES = 64_000

Colour = Annotated[str, Field(description="#RRGGBB or #RRGGBBAA")]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


def rgba(colour: str) -> tuple[int, int, int, int]:
    """``#RRGGBB[AA]`` → (r, g, b, a)."""
    c = colour.lstrip("#")
    return (
        int(c[0:2], 16),
        int(c[2:4], 16),
        int(c[4:6], 16),
        int(c[6:8], 16) if len(c) == 8 else 255,
    )


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fonts(_Part):
    family: str | None = Field(
        default=None, description="font family for captions and cards, e.g. 'DejaVu Sans'"
    )
    headline_family: str | None = Field(
        default=None, description="family for card headlines and the lower third; None: family"
    )

    @field_validator("family", "headline_family")
    @classmethod
    def _a_family_name(cls, v: str | None) -> str | None:
        # a name, never a path: a template must not make the renderer open (or tell whether
        # there is) a file of this host
        if v is not None and not _FAMILY_RE.match(v):
            raise ValueError(
                "a font family name (letters, digits, spaces, '-' or '_', at most 60), "
                "e.g. 'DejaVu Sans'; paths are not allowed"
            )
        return v


class Colours(_Part):
    caption_text: Colour = "#FFFFFF"
    caption_highlight: Colour = "#FFC928"
    caption_outline: Colour = "#0C0C10"
    caption_box: Colour = "#0A0C14A5"
    title_bar: Colour = "#0A0C14A5"
    title_text: Colour = "#FFFFFF"
    accent: Colour = "#FFC928"
    card_background: Colour = "#10131C"
    card_text: Colour = "#FFFFFF"
    lower_third_background: Colour = "#10131CE6"
    lower_third_text: Colour = "#FFFFFF"

    @field_validator("*")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _COLOUR_RE.match(v):
            raise ValueError(f"colour {v!r}: use #RRGGBB or #RRGGBBAA, e.g. #FFC928")
        return v.upper()


class Logo(_Part):
    image: str = Field(
        description="a bundled file under templates/ (e.g. assets/news-logo.png) or a store "
        "key prefixed 'store:' (e.g. store:templates/assets/acme.png)"
    )
    position: Corner = "top-right"
    size: float = Field(
        default=0.14, gt=0.02, le=0.5, description="width as a share of the frame's"
    )
    opacity: float = Field(default=0.9, ge=0.05, le=1.0)

    @field_validator("image")
    @classmethod
    def _safe(cls, v: str) -> str:
        from novaavatar.domain import validate_key

        validate_key(v.removeprefix("store:"))
        if not v.lower().endswith((".png", ".jpg", ".jpeg", ".webp")):
            raise ValueError(f"logo {v!r}: use a .png, .jpg or .webp image")
        return v


class LowerThird(_Part):
    enabled: bool = True
    text: str = Field(
        default="{source} · {date}",
        max_length=120,
        description="placeholders: {source}, {date}, {title}",
    )
    date_format: str = Field(default="%d %b", max_length=20)
    show_from_s: float = Field(
        default=0.4, ge=0, le=300, description="seconds into the video (at most 300, the longest)"
    )
    show_for_s: float = Field(default=0, ge=0, le=300, description="0: until the end")


class Card(_Part):
    enabled: bool = True
    duration_s: float = Field(default=1.6, ge=0.6, le=4.0)
    fade_s: float = Field(default=0.35, ge=0.0, le=1.5)
    kicker: str = Field(default="", max_length=40, description="small label above the text")
    text: str = Field(default="{title}", max_length=200, description="placeholders as lower_third")


class Captions(_Part):
    style: Literal["highlight", "plain", "none"] = "highlight"
    size: float = Field(default=1.0, ge=0.6, le=1.8, description="× the default caption size")
    position: Literal["bottom", "lower-middle"] = "bottom"


class BrandTemplate(_Part):
    """One version of a brand template, as written in its file."""

    name: str
    version: int = Field(ge=1, le=999_999)
    description: str = Field(default="", max_length=300)
    layout: Literal["studio", "pip", "full"] | None = None
    voice: str | None = Field(default=None, max_length=40)
    portrait_key: str | None = None
    presenter: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_-]{0,39}(@[1-9][0-9]{0,5})?$",
        description="presenter profile name[@version] for runs that name none",
    )
    fonts: Fonts = Fonts()
    colours: Colours = Colours()
    logo: Logo | None = None
    lower_third: LowerThird = LowerThird()
    intro: Card = Card()
    outro: Card = Card(text="Source: {source}")
    captions: Captions = Captions()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v == NO_TEMPLATE:
            raise ValueError(f"name {v!r} is reserved for the plain look; choose another")
        if not _NAME_RE.match(v):
            raise ValueError(f"name {v!r}: use 1-40 lowercase letters, digits, '-' or '_'")
        return v

    @field_validator("portrait_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        from novaavatar.domain import validate_key

        return validate_key(v) if v else None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def intro_s(self) -> float:
        return self.intro.duration_s if self.intro.enabled else 0.0

    @property
    def outro_s(self) -> float:
        return self.outro.duration_s if self.outro.enabled else 0.0


class Brand(_Part):
    """What the render and compose stages draw for one video: the template and the item's words."""

    template: BrandTemplate
    source: str = ""
    date: str = ""
    title: str = ""

    def fill(self, text: str) -> str:
        """A template text with {source}, {date} and {title} filled in. A part (between
        " · " or " | ") whose placeholders are all empty is left out: "Source: {source}"
        without a source is nothing, "{source} · {date}" without a date is the source."""
        values = {"source": self.source, "date": self.date, "title": self.title}
        kept = []
        for part in re.split(r"\s+[·|]\s+", text):
            used = re.findall(r"\{(source|date|title)\}", part)
            if used and not any(values[u].strip() for u in used):
                continue
            for k, v in values.items():
                part = part.replace("{" + k + "}", v)
            if part.strip():
                kept.append(" ".join(part.split()))
        return " · ".join(kept)

    @property
    def lower_third_text(self) -> str:
        lt = self.template.lower_third
        return self.fill(lt.text) if lt.enabled else ""


# --- loading -----------------------------------------------------------------------------------


def parse(data: bytes | str, where: str) -> BrandTemplate:
    """A template from TOML or YAML text; errors name ``where`` and the field."""
    raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise InputError(f"template {where}: {len(raw)} bytes; at most {MAX_TEMPLATE_BYTES}")
    try:
        doc = yaml.safe_load(raw) if where.endswith((".yaml", ".yml")) else tomllib.loads(raw)
    except RecursionError:  # tomllib and PyYAML recurse once per nesting level
        raise InputError(f"template {where}: nested too deeply to be a template") from None
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise InputError(
            f"template {where}: not valid "
            f"{'YAML' if where.endswith(('.yaml', '.yml')) else 'TOML'}: {e}"
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"template {where}: expected a table of fields, got {type(doc).__name__}")
    try:
        return BrandTemplate.model_validate(doc)
    except ValidationError as e:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in e.errors()
        )
        raise InputError(f"template {where}: {problems}") from None


def _check_named(t: BrandTemplate, where: str, name: str, version: int | None) -> BrandTemplate:
    if t.name != name or (version is not None and t.version != version):
        want = f"{name}@{version}" if version is not None else name
        raise InputError(f"template {where}: field name/version say {t.ref}; the file is {want}")
    return t


def shipped() -> dict[str, BrandTemplate]:
    """The templates in ``templates/``, by ``name@version``."""
    out: dict[str, BrandTemplate] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.toml")) + sorted(TEMPLATES_DIR.glob("*.y*ml")):
        t = parse(path.read_bytes(), f"templates/{path.name}")
        stem = path.stem.split("@")
        _check_named(t, f"templates/{path.name}", stem[0], int(stem[1]) if len(stem) > 1 else None)
        out[t.ref] = t
    return out


def _store_refs(store: ArtifactStore | None) -> list[str]:
    if store is None:
        return []
    refs = []
    for key in store.list(STORE_PREFIX):
        parts = key.removeprefix(STORE_PREFIX).removesuffix(".toml").split("/")
        if len(parts) == 2 and key.endswith(".toml") and _REF_RE.match("@".join(parts)):
            refs.append("@".join(parts))
    return refs


def store_key(ref: str) -> str:
    """``news@2`` → ``templates/news/2.toml``."""
    name, version = ref.split("@")
    return f"{STORE_PREFIX}{name}/{version}.toml"


def _from_store(store: ArtifactStore, ref: str) -> BrandTemplate:
    key = store_key(ref)
    name, version = ref.split("@")
    return _check_named(parse(store.get_bytes(key), key), key, name, int(version))


def available(store: ArtifactStore | None = None) -> dict[str, BrandTemplate]:
    """Every template version, shipped and from the store, by ``name@version``, sorted."""
    out = shipped()
    for ref in _store_refs(store):
        if ref not in out and store is not None:
            out[ref] = _from_store(store, ref)
    return dict(sorted(out.items(), key=lambda kv: (kv[1].name, kv[1].version)))


def split_ref(ref: str) -> tuple[str, int | None]:
    m = _REF_RE.match(ref.strip().lower()) if isinstance(ref, str) else None
    if m is None:
        raise InputError(f"template {ref!r}: use name or name@version, e.g. news or shorts@1")
    return m["name"], int(m["version"]) if m["version"] else None


def resolve(
    ref: str | None, store: ArtifactStore | None = None, format: str = "single"
) -> BrandTemplate:
    """The concrete template for ``ref`` (newest version when none is given; None: the format's)."""
    name, version = split_ref(ref if ref is not None else FORMAT_DEFAULTS.get(format, "news"))
    if version is not None:
        key = f"{name}@{version}"
        found = shipped().get(key)
        if found is not None:
            return found
        if store is not None:
            try:
                return _from_store(store, key)
            except NotFoundError:
                pass
    else:  # the newest version; only that one file is read
        mine = [t for t in shipped().values() if t.name == name]
        stored = [int(r.split("@")[1]) for r in _store_refs(store) if r.split("@")[0] == name]
        newest = max([*(t.version for t in mine), *stored], default=None)
        if newest is not None:
            found = next((t for t in mine if t.version == newest), None)
            return found or _from_store(store, f"{name}@{newest}")  # type: ignore[arg-type]
    names = sorted({t.ref for t in available(store).values()})
    raise InputError(f"unknown template {ref!r}: choose one of {', '.join(names)}")


def save(
    store: ArtifactStore, data: bytes, filename: str = "upload.toml", consent_by: str | None = None
) -> BrandTemplate:
    """Validate an uploaded template and store it as a new version; never replaces one.

    A template that names a portrait needs ``consent_by``: whoever attests the right to use
    that likeness (recorded like any portrait's consent)."""
    from novaavatar import consent

    t = parse(data, filename)
    if t.ref in shipped() or t.ref in _store_refs(store):
        newest = max((v.version for v in available(store).values() if v.name == t.name), default=0)
        raise InputError(
            f"template {filename}: {t.ref} exists already; versions never change, "
            f"use version = {newest + 1}"
        )
    logo = t.logo.image if t.logo is not None else ""
    if logo.startswith("store:") and not store.exists(logo.removeprefix("store:")):
        raise InputError(f"template {filename}: field logo.image: {logo!r} is not in the store")
    if t.portrait_key and not store.exists(t.portrait_key):
        raise InputError(
            f"template {filename}: field portrait_key: {t.portrait_key!r} is not in the store"
        )
    if t.presenter and t.presenter != "none":
        from novaavatar import presenters

        try:
            presenters.resolve(t.presenter, store)
        except InputError as e:
            raise InputError(f"template {filename}: field presenter: {e}") from None
    if t.portrait_key and not consent_by:
        raise consent.ConsentMissing(
            f"template {filename} names the portrait {t.portrait_key!r}: {consent.HOW_TO_ATTEST}"
        )
    if t.portrait_key:
        consent.attest(store, t.portrait_key, consent_by, via=f"template {t.ref}")
    text = data.decode("utf-8") if filename.endswith(".toml") else to_toml(t)
    store.put_bytes(store_key(t.ref), text.encode("utf-8"), "application/toml")
    return t


def to_toml(t: BrandTemplate) -> str:
    """The template as TOML text (what ``templates show`` prints and uploads store)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    data = t.model_dump(exclude_none=True)
    top = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"\n[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items() if vv is not None)
        for k, v in data.items()
        if isinstance(v, dict)
    ]
    return "\n".join(top) + "\n" + "".join(tables) + "\n"


# --- options ------------------------------------------------------------------------------------


def build_options(
    explicit: Mapping[str, Any],
    store: ArtifactStore | None = None,
    settings: Settings | None = None,
) -> ProduceOptions:
    """ProduceOptions from what the user set (None or absent: not set), filled from the
    template, then from the settings' defaults.

    The presenter profile (explicit ``presenter`` > the template's > DEFAULT_PRESENTER;
    ``none``: no profile) fills the portrait, voice and layout the user left unset, before
    the template's own values.

    Precedence: explicit option > presenter > template > setting (DEFAULT_STYLE,
    DEFAULT_DURATION fitted to the format, DEFAULT_ASPECT, TTS_VOICE when it speaks the
    video's language) > ProduceOptions' default. ``template`` (and ``presenter``) in the
    result are pinned to ``name@version``, so the video id and manifest record that version.
    A voice (presenter's, template's or TTS_VOICE) applies only when it speaks the video's
    language.
    """
    from novaavatar import presenters
    from novaavatar.domain import ProduceOptions

    data = {k: v for k, v in explicit.items() if v is not None}
    language = str(data.get("language", "en"))
    t = None
    if str(data.get("template", "")).strip().lower() != NO_TEMPLATE:
        t = resolve(data.get("template"), store, str(data.get("format", "single")))
    # the presenter: explicit > the template's > DEFAULT_PRESENTER; it fills the portrait,
    # voice and layout before the template does (a chosen face is more specific than a look)
    chosen_presenter = data.get("presenter") or (t.presenter if t is not None else None)
    if chosen_presenter is None and settings is not None:
        chosen_presenter = settings.default_presenter
    if chosen_presenter == presenters.NO_PRESENTER:
        data.pop("presenter", None)  # none: no profile, as videos made before presenters
    elif chosen_presenter:
        p = presenters.resolve(chosen_presenter, store)
        presenters.fill(data, p, language)
        data["presenter"] = p.ref
    if t is None:
        data["template"] = None  # the plain look, as videos made before templates
    else:
        for field in TEMPLATE_FIELDS:
            value = t.captions.style if field == "caption_style" else getattr(t, field)
            if field in data or value is None:
                continue
            if field == "voice" and not _speaks(value, language):
                continue
            data[field] = value
        data["template"] = t.ref
    if settings is not None:
        _fill_from_settings(data, settings, language)
        if "portrait_key" not in data and settings.portrait_path is not None and store is not None:
            data["portrait_key"] = default_portrait(store, settings)
    return ProduceOptions.model_validate(data)


def default_portrait(store: ArtifactStore, s: Settings) -> str:
    """``PORTRAIT_PATH`` in the store (content-addressed, so the same photo is one key), with
    the likeness consent ``PORTRAIT_CONSENT_BY`` gives; without it the run is refused later
    (every produce flow requires a consent for each portrait it shows)."""
    from novaavatar import consent
    from novaavatar.uploads import store_portrait

    path = Path(str(s.portrait_path))
    if not path.is_file():
        raise InputError(
            f"PORTRAIT_PATH={str(path)!r} is not a file: point it at a JPEG or PNG photo of the "
            "presenter, or leave it unset for the drawn presenter"
        )
    key = store_portrait(store, path.read_bytes(), f"PORTRAIT_PATH {path.name}")
    if s.portrait_consent_by.strip() and consent.consent_for(store, key) is None:
        consent.attest(store, key, s.portrait_consent_by, via="settings: PORTRAIT_PATH")
    return key


def _speaks(voice: str, language: str) -> bool:
    from novaavatar.presenters import speaks

    return speaks(voice, language)


def _fill_from_settings(data: dict[str, Any], s: Settings, language: str) -> None:
    """The operator's defaults for what neither the user nor the template chose."""
    from novaavatar.domain import duration_range

    data.setdefault("style", s.default_style)
    data.setdefault("aspect", s.default_aspect)
    if "duration_s" not in data:
        lo, hi = duration_range(str(data.get("format", "single")))
        data["duration_s"] = float(min(max(s.default_duration, lo), hi))
    if "voice" not in data and _speaks(s.tts_voice, language):
        data["voice"] = s.tts_voice


def brand_for(
    item: ContentItem, options: ProduceOptions, store: ArtifactStore | None = None, title: str = ""
) -> Brand | None:
    """The brand one video is drawn with: its pinned template and the item's source line.

    None for options without a template: :func:`build_options` pins one unless the run
    asked for ``none`` (and videos made before templates have none).
    """
    if options.template is None:
        return None
    t = resolve(options.template, store, options.format)
    published: datetime | None = item.published
    date = published.strftime(t.lower_third.date_format) if published is not None else ""
    source = "" if item.source in ("manual upload",) else item.source
    return Brand(template=t, source=source[:60], date=date, title=title or item.title)
