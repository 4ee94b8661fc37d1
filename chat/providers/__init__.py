"""Model providers for the chat: one neutral conversation (``chat.providers.base``), three wire protocols.

``provider_for(config)`` picks the implementation by ``config.kind``: ``openai`` (OpenAI-compatible Chat
Completions over httpx), ``anthropic`` (Messages API over httpx) or ``bedrock`` (ConverseStream, boto3).
"""

from chat.providers.base import (
    AssistantTurn,
    Completion,
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderUnreachable,
    ToolCall,
    ToolOutput,
    ToolResults,
    ToolSpec,
    Turn,
    UserText,
)

PROVIDER_NAMES = {"openai": "OpenAI-compatible", "anthropic": "Anthropic", "bedrock": "AWS Bedrock"}


def provider_for(config: ProviderConfig) -> Provider:
    if config.kind == "openai":
        from chat.providers.openai import OpenAIProvider

        return OpenAIProvider(config)
    if config.kind == "anthropic":
        from chat.providers.anthropic import AnthropicProvider

        return AnthropicProvider(config)
    if config.kind == "bedrock":
        from chat.providers.bedrock import BedrockProvider

        return BedrockProvider(config)
    raise ValueError(f"Unknown chat provider {config.kind!r}; one of {', '.join(PROVIDER_NAMES)}.")


__all__ = [
    "PROVIDER_NAMES",
    "AssistantTurn",
    "Completion",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderProtocolError",
    "ProviderUnreachable",
    "ToolCall",
    "ToolOutput",
    "ToolResults",
    "ToolSpec",
    "Turn",
    "UserText",
    "provider_for",
]
