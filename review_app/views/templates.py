"""Brand templates: every version with a rendered preview, and uploading a new version."""

from __future__ import annotations

import io

import streamlit as st

from novaavatar import templates
from novaavatar.consent import ConsentMissing
from novaavatar.errors import InputError, NovaAvatarError
from novaavatar.store import ArtifactStore
from novaavatar.templates import BrandTemplate
from review_app import access, ui

ASPECTS = ("9:16", "16:9", "1:1")


@st.cache_data(max_entries=24, show_spinner="Rendering the preview…")
def preview_png(template_json: str, aspect: str) -> bytes:
    """A sample presenter frame and the intro card, side by side, as PNG bytes."""
    from tasks.compose.preview import preview_image

    t = BrandTemplate.model_validate_json(template_json)
    buf = io.BytesIO()
    preview_image(t, aspect, height=520).save(buf, format="PNG")
    return buf.getvalue()


def upload_form(store: ArtifactStore) -> None:
    st.subheader("Add a version")
    st.caption(
        "A TOML or YAML file with `name` and a new `version`; versions never change, so "
        "videos made with an older one keep their look. `novaavatar templates show news` "
        "prints a shipped template to start from."
    )
    attest = st.checkbox(
        "If the template names a portrait (portrait_key): I have the right to use that "
        "likeness, recorded with my name",
        key="template_consent",
    )
    upload = st.file_uploader("Template file", type=["toml", "yaml", "yml"], key="template_upload")
    if upload is None:
        return
    # the uploader keeps its file across reruns: store each upload once, then remember it
    done = st.session_state.setdefault("template_uploads", {})
    if upload.file_id not in done:
        by = access.reviewer() if attest else None
        try:
            done[upload.file_id] = (
                "ok",
                templates.save(store, upload.getvalue(), upload.name, consent_by=by).ref,
            )
        except ConsentMissing as e:  # not remembered: tick the box and it is stored
            st.error(f"{e} (and enter your name in the sidebar)", icon=":material/block:")
            return
        except InputError as e:
            done[upload.file_id] = ("error", str(e))
        except (NovaAvatarError, OSError) as e:
            done[upload.file_id] = ("error", f"Could not store {upload.name!r}: {e}")
    outcome, text = done[upload.file_id]
    if outcome == "ok":
        st.success(f"Stored **{text}**: runs can use `template={text}` now.")
    else:
        st.error(text, icon=":material/block:")


def main() -> None:
    st.title("Brand templates")
    _, store = ui.store_or_stop()
    try:
        every = templates.available(store)
    except InputError as e:  # a broken upload must not hide the shipped templates' page
        st.error(str(e), icon=":material/error:")
        every = templates.shipped()
    shipped = templates.shipped()
    names = sorted({t.name for t in every.values()})
    st.caption(
        f"{len(every)} template version(s). A run picks one with `template` (name or "
        "name@version); without one, single videos and conversations use news, explainers "
        "use explainer. What a run sets itself (voice, layout, captions) wins over the template."
    )
    name_col, version_col, aspect_col = st.columns(3)
    name = name_col.selectbox("Template", names, key="template_name")
    versions = sorted((t.version for t in every.values() if t.name == name), reverse=True)
    version = version_col.selectbox("Version", versions, key=f"template_version_{name}")
    t = every[f"{name}@{version}"]
    default_aspect = "16:9" if t.layout == "pip" else "9:16"
    aspect = aspect_col.selectbox(
        "Aspect", ASPECTS, index=ASPECTS.index(default_aspect), key="template_aspect"
    )
    where = "shipped in templates/" if t.ref in shipped else "uploaded to the store"
    st.markdown(f"**{t.ref}** — {t.description or 'no description'} ({where})")
    st.markdown(
        f"Layout **{t.layout or 'run default'}** · captions **{t.captions.style}** "
        f"(×{t.captions.size:g}, {t.captions.position}) · voice **{t.voice or 'run default'}** "
        f"· intro {t.intro_s:g} s · outro {t.outro_s:g} s"
        + (f" · presenter **{t.presenter}**" if t.presenter else "")
    )
    try:
        st.image(
            preview_png(t.model_dump_json(), aspect),
            caption="A presenter frame (title, lower third, captions, logo) and the intro card",
        )
    except (NovaAvatarError, OSError) as e:
        st.error(f"Could not render {t.ref}: {e}")
    with st.expander("Template file"):
        st.code(templates.to_toml(t), language="toml")
    upload_form(store)


main()
