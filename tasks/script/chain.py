"""The single-presenter script chain: OpenAI when a key is configured, then the offline
template (conversations and explainers put their own writers in front of it)."""

from __future__ import annotations

from tasks.script import ScriptProvider, TemplateScriptProvider


def default_providers() -> list[ScriptProvider]:
    """OpenAI when a key is configured (env or Prefect block), then the offline template."""
    from blocks.credentials import openai_credentials
    from novaavatar.settings import get_settings
    from tasks.script.openai_script import OpenAIScriptProvider

    s = get_settings()
    key, base_url = openai_credentials(
        s.openai_api_key, s.openai_base_url, s.openai_credentials_block
    )
    openai = OpenAIScriptProvider(
        key,
        model=s.openai_model,
        base_url=base_url,
        timeout_s=s.openai_timeout,
        max_retries=s.openai_max_retries,
        deadline_s=s.openai_deadline,
    )
    return [openai, TemplateScriptProvider()]
