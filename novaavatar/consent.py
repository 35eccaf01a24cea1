"""Likeness consent: a portrait is animated only when someone attested the right to use it.

``attest`` records who and when next to the portrait (``consents/<portrait key>.json``);
``require`` is what every production runs before rendering (CLI, API, review page,
templates and deployments alike): a portrait without a record is refused, naming how to
give one. The drawn presenter needs none. The records go into the manifest and exports.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from novaavatar.domain import Consent, ProduceOptions, validate_key
from novaavatar.errors import InputError, NotFoundError
from novaavatar.store import ArtifactStore

HOW_TO_ATTEST = (
    "attest that you have the right to use this likeness: `--i-have-consent` on the command "
    "line, the consent checkbox of the review page, i_have_consent=true in the API, or "
    "PORTRAIT_CONSENT_BY for the PORTRAIT_PATH photo"
)


class ConsentMissing(InputError):
    """A portrait was named without an attestation of the right to use the likeness."""


def consent_key(portrait_key: str) -> str:
    """Where the attestations of one portrait are kept."""
    return validate_key(f"consents/{validate_key(portrait_key)}.json")


def attest(store: ArtifactStore, portrait_key: str, by: str | None, via: str) -> Consent:
    """Record that ``by`` attests the right to use the likeness in ``portrait_key``."""
    if not (by or "").strip():
        raise InputError("consent needs the name of whoever attests it (e.g. --by NAME)")
    if not store.exists(portrait_key):
        raise InputError(f"portrait {portrait_key!r} is not in the store: upload it first")
    consent = Consent(portrait_key=portrait_key, by=str(by), via=via)
    key = consent_key(portrait_key)
    earlier = _records(store, key)
    store.put_bytes(
        key,
        json.dumps(
            {"attestations": [*earlier, consent.model_dump(mode="json")]}, indent=2
        ).encode(),
        "application/json",
    )
    return consent


def _records(store: ArtifactStore, key: str) -> list[dict[str, object]]:
    try:
        raw = store.get_json(key)
    except NotFoundError:
        return []
    found = raw.get("attestations") if isinstance(raw, dict) else None
    return list(found) if isinstance(found, list) else []


def consent_for(store: ArtifactStore, portrait_key: str) -> Consent | None:
    """The latest valid attestation for ``portrait_key``, or None."""
    for raw in reversed(_records(store, consent_key(portrait_key))):
        try:
            consent = Consent.model_validate(raw)
        except ValidationError:
            continue
        if consent.portrait_key == portrait_key:
            return consent
    return None


def portraits(options: ProduceOptions) -> dict[str, str]:
    """The portraits a video shows, by presenter role (none: drawn presenters)."""
    roles = {"host": options.portrait_key, "guest": options.guest_portrait_key}
    return {role: key for role, key in roles.items() if key}


def require(store: ArtifactStore, options: ProduceOptions) -> dict[str, Consent]:
    """The consent of every portrait ``options`` show; ``ConsentMissing`` for one without."""
    out: dict[str, Consent] = {}
    for role, key in portraits(options).items():
        consent = consent_for(store, key)
        if consent is None:
            via = f" (given directly or by template {options.template})" if options.template else ""
            raise ConsentMissing(
                f"the {role} portrait {key!r}{via} has no likeness consent on record; "
                + HOW_TO_ATTEST
            )
        out[role] = consent
    return out
