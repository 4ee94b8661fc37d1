"""AWS Bedrock through boto3's ``bedrock-runtime`` client: ConverseStream, with tool use.

Protocol (Amazon Bedrock API reference, "ConverseStream", "ConverseStreamOutput", "ToolConfiguration"):
``converse_stream(modelId, messages, system=[{"text"}], inferenceConfig={"maxTokens"}, toolConfig={"tools":
[{"toolSpec": {"name", "description", "inputSchema": {"json": schema}}}], "toolChoice"?})``. Messages hold
content blocks ``{"text"}``, ``{"toolUse": {"toolUseId", "name", "input"}}`` (assistant) and
``{"toolResult": {"toolUseId", "content": [{"json": …}], "status": "success"|"error"}}`` (user). The
response's ``stream`` yields events: ``messageStart``, ``contentBlockStart`` (``start.toolUse`` with
``toolUseId`` and ``name``), ``contentBlockDelta`` (``delta.text``, or ``delta.toolUse.input``, a piece of
the input's JSON text), ``contentBlockStop``, ``messageStop`` (``stopReason``, e.g. ``tool_use``),
``metadata`` (``usage.inputTokens``, ``usage.outputTokens``); errors in the stream (throttlingException,
modelStreamErrorException…) are raised by botocore while iterating. A request that declares no tools cannot
carry toolUse blocks, so the tools stay declared on the last round; Converse has no "none" tool choice, so
calls asked for then are dropped by the caller.

boto3 is synchronous: the call and each read of the stream run in a worker thread, so the event loop (and
other sockets of the daphne process) keep going. botocore's own retries are off; ``with_retries`` applies
the same rule as the HTTP providers.
"""

from __future__ import annotations

import asyncio

from chat.providers.base import (
    AssistantTurn,
    Completion,
    OnText,
    ProviderConfig,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderUnreachable,
    Streamed,
    ToolCall,
    ToolResults,
    ToolSpec,
    Turn,
    UserText,
    alternating,
    parse_arguments,
    token_count,
    with_retries,
)

NAME = "AWS Bedrock"
STREAM_ERROR_STATUS = {
    "throttlingException": 429,
    "ThrottlingException": 429,
    "serviceUnavailableException": 503,
    "ServiceUnavailableException": 503,
    "internalServerException": 500,
    "InternalServerException": 500,
}


class BedrockProvider:
    kind = "bedrock"

    def __init__(self, config: ProviderConfig, *, client=None):
        self.config = config
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    async def complete(
        self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool, on_text: OnText
    ) -> Completion:
        request = self.request(system, turns, tools)

        async def attempt(streamed: Streamed) -> Completion:
            with _typed_errors(self.config):
                response = await asyncio.to_thread(self.client.converse_stream, **request)
                return await read_stream(response["stream"], streamed)

        return await with_retries(self.config, attempt, on_text)

    def request(self, system: str, turns: list[Turn], tools: list[ToolSpec]) -> dict:
        request: dict = {
            "modelId": self.config.model,
            "messages": wire_messages(turns),
            "system": [{"text": system}],
            "inferenceConfig": {"maxTokens": self.config.max_tokens},
        }
        if tools:
            request["toolConfig"] = {
                "tools": [
                    {
                        "toolSpec": {
                            "name": t.name,
                            "description": t.description,
                            "inputSchema": {"json": t.parameters},
                        }
                    }
                    for t in tools
                ]
            }
        return request


def make_client(config: ProviderConfig):
    import boto3
    from botocore.config import Config

    settings = Config(
        connect_timeout=min(config.connect_timeout, config.timeout),
        read_timeout=config.timeout,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client(
        "bedrock-runtime",
        region_name=config.aws_region,
        endpoint_url=config.aws_endpoint_url or None,
        config=settings,
    )


def wire_messages(turns: list[Turn]) -> list[dict]:
    """Converse alternates user and assistant too: consecutive turns of one role are merged."""
    return alternating(turns, _blocks)


def _blocks(turn: Turn) -> tuple[str, list[dict]]:
    if isinstance(turn, UserText):
        return "user", [{"text": turn.text}] if turn.text else []
    if isinstance(turn, AssistantTurn):
        blocks: list[dict] = [{"text": turn.text}] if turn.text else []
        blocks += [
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.name,
                    "input": call.arguments if isinstance(call.arguments, dict) else {},
                }
            }
            for call in turn.tool_calls
        ]
        return "assistant", blocks
    assert isinstance(turn, ToolResults)
    return "user", [
        {
            "toolResult": {
                "toolUseId": out.call.id,
                "content": [{"json": out.content}],
                "status": "error" if out.is_error else "success",
            }
        }
        for out in turn.outputs
    ]


async def read_stream(stream, streamed: Streamed) -> Completion:
    events = iter(stream)
    text: list[str] = []
    blocks: dict[int, dict] = {}
    usage: dict = {}
    stop = ""
    while (event := await asyncio.to_thread(next, events, None)) is not None:
        try:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]
                tool = start["start"].get("toolUse")
                if tool:
                    blocks[int(start["contentBlockIndex"])] = {
                        "id": tool["toolUseId"],
                        "name": tool["name"],
                        "json": [],
                    }
            elif "contentBlockDelta" in event:
                delta = event["contentBlockDelta"]["delta"]
                if "text" in delta:
                    text.append(delta["text"])
                    await streamed.text(delta["text"])
                elif "toolUse" in delta:
                    index = int(event["contentBlockDelta"]["contentBlockIndex"])
                    blocks[index]["json"].append(delta["toolUse"]["input"])
            elif "messageStop" in event:
                stop = event["messageStop"].get("stopReason", "")
            elif "metadata" in event:
                found = event["metadata"].get("usage")
                usage = found if isinstance(found, dict) else usage
        except (AttributeError, TypeError, KeyError, ValueError) as error:
            raise ProviderProtocolError(f"{NAME} sent a malformed event ({error})") from None
    if not stop:
        raise ProviderProtocolError(f"{NAME} ended the stream before messageStop")
    calls = tuple(
        ToolCall(block["id"], block["name"], parse_arguments("".join(block["json"])))
        for _, block in sorted(blocks.items())
    )
    return Completion(
        "".join(text),
        calls,
        token_count(usage.get("inputTokens")),
        token_count(usage.get("outputTokens")),
        stop,
    )


class _typed_errors:
    """botocore's exceptions as ProviderErrors, whether raised by the call or while reading the stream."""

    def __init__(self, config: ProviderConfig):
        self.config = config

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, ProviderError):
            return False
        typed = _typed(error, self.config)
        if typed is None:
            return False
        raise typed from None


def _typed(error: BaseException, config: ProviderConfig) -> ProviderError | None:
    from botocore import exceptions as aws

    where = config.aws_endpoint_url or f"region {config.aws_region}"
    if isinstance(error, aws.ConnectTimeoutError | aws.EndpointConnectionError):
        return ProviderUnreachable(
            f"{NAME} at {where} could not be reached ({type(error).__name__})", retryable=True
        )
    if isinstance(error, aws.ReadTimeoutError):
        return ProviderUnreachable(
            f"{NAME} sent nothing for {config.timeout:g} s (timed out)", retryable=False
        )
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return ProviderError(f"{NAME}: the portal has no AWS credentials to sign the request")
    if isinstance(error, aws.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "error"))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or STREAM_ERROR_STATUS.get(
            code, 400
        )
        message = " ".join(str(info.get("Message", "")).split())[:200]
        return ProviderHTTPError(
            f"{NAME} answered {code} (HTTP {status})" + (f": {message}" if message else ""),
            status=int(status),
        )
    if isinstance(error, aws.BotoCoreError):
        return ProviderProtocolError(f"{NAME} failed ({type(error).__name__})")
    return None
