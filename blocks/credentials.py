"""Credentials for the cloud providers as Prefect blocks, an alternative to env variables.

``OPENAI_API_KEY`` / ``REPLICATE_API_TOKEN`` win when set; otherwise a block named by
``OPENAI_CREDENTIALS_BLOCK`` / ``REPLICATE_CREDENTIALS_BLOCK`` is loaded from the Prefect
server. The secret stays a ``SecretStr`` until the SDK client is built.
"""

from __future__ import annotations

import logging

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

log = logging.getLogger("novaavatar.credentials")


class OpenAICredentials(Block):
    """An OpenAI API key (and, optionally, another API base URL)."""

    _block_type_name = "NovaAvatar OpenAI Credentials"
    _block_type_slug = "novaavatar-openai-credentials"
    _description = "API key for OpenAI scripts; used when OPENAI_API_KEY is not set."

    api_key: SecretStr = Field(description="OpenAI API key (sk-...).")
    base_url: str | None = Field(
        default=None, description="API base URL; empty: https://api.openai.com/v1."
    )


class ReplicateCredentials(Block):
    """A Replicate API token (and, optionally, another API base URL)."""

    _block_type_name = "NovaAvatar Replicate Credentials"
    _block_type_slug = "novaavatar-replicate-credentials"
    _description = "API token for Flux backgrounds; used when REPLICATE_API_TOKEN is not set."

    api_token: SecretStr = Field(description="Replicate API token (r8_...).")
    base_url: str | None = Field(
        default=None, description="API base URL; empty: https://api.replicate.com."
    )


def _load(cls: type[Block], name: str) -> Block | None:
    try:
        return cls.load(name)  # type: ignore[return-value]
    except Exception as e:  # no server, no such block: the provider is skipped, not an error
        log.info("credentials block %r (%s) not loaded: %s", name, cls.__name__, e)
        return None


def _resolve(
    env_secret: SecretStr | None,
    env_base_url: str | None,
    block_cls: type[OpenAICredentials] | type[ReplicateCredentials],
    block_name: str,
    secret_field: str,
) -> tuple[SecretStr | None, str | None]:
    """(secret, base URL): the env secret when set, else the named block's, else (None, ...)."""
    if env_secret is not None and env_secret.get_secret_value():
        return env_secret, env_base_url or None
    if block_name:
        block = _load(block_cls, block_name)
        if isinstance(block, block_cls):
            return getattr(block, secret_field), env_base_url or block.base_url
    return None, env_base_url or None


def openai_credentials(
    env_key: SecretStr | None, env_base_url: str | None, block_name: str = ""
) -> tuple[SecretStr | None, str | None]:
    """OPENAI_API_KEY, else the named OpenAICredentials block's key."""
    return _resolve(env_key, env_base_url, OpenAICredentials, block_name, "api_key")


def replicate_credentials(
    env_token: SecretStr | None, env_base_url: str | None, block_name: str = ""
) -> tuple[SecretStr | None, str | None]:
    """REPLICATE_API_TOKEN, else the named ReplicateCredentials block's token."""
    return _resolve(env_token, env_base_url, ReplicateCredentials, block_name, "api_token")
