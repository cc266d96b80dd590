"""A fake OpenAI-compatible chat completions server on 127.0.0.1, which the real `openai`
SDK talks to over HTTP.

Each test scripts it: `fake.add(step, ...)` queues what the next requests get, in order.
A step is an `Answer` (text and/or tool calls, function or `custom`; or a `refusal`; a
`finish_reason` such as "length" or "content_filter"; reasoning tokens, annotations,
logprobs), a `Failure` (HTTP status with OpenAI's error body, `type`, `code` and `param`,
and headers such as Retry-After: see `rate_limited`, `quota_exhausted`,
`invalid_api_key`, `context_length_exceeded`), `Slow` (a delay before another step),
`Garbage` (a 200 that is not JSON), `Raw` (a 200 with any JSON body: a completion of a
shape the SDK does not check, such as `message: null`), or a function of the request
(`ModelRequest`) returning one of those, so a scripted model can read tool results and
answer from them. Completions have the API reference's shape: `refusal`, `annotations`,
`logprobs`, `usage.completion_tokens_details` (reasoning tokens are part of
`completion_tokens`, as OpenAI bills them) and `prompt_tokens_details`.

Like the API, a request to a reasoning model (o-series, gpt-5 family) with `max_tokens`
or a temperature other than 1 is refused with a 400 (`unsupported_parameter`,
`unsupported_value`) before any scripted step is used.

Every request body is kept, with its prompt tokens counted (`tests.fakes.tokens`);
reported usage uses the same counts. An unscripted request gets a 500 and is recorded in
`unscripted`; a scripted function that raises gets a 500 and is recorded in
`script_errors`."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.tokens import count_request, count_text


@dataclass
class ToolCall:
    name: str
    arguments: str | dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def raw_arguments(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class CustomToolCall:
    """A call of a custom (free-form input) tool: `type: "custom"`."""

    name: str
    input: str = ""
    id: str | None = None


@dataclass
class Answer:
    content: str | None = None
    tool_calls: list[ToolCall | CustomToolCall] = field(default_factory=list)
    cached_tokens: int = 0
    no_usage: bool = False
    refusal: str | None = None
    # None: "tool_calls" with tool calls, else "stop"; or "length", "content_filter".
    finish_reason: str | None = None
    reasoning_tokens: int = 0  # counted in completion_tokens, as the API bills them
    annotations: list[dict[str, Any]] = field(default_factory=list)
    logprobs: dict[str, Any] | None = None


@dataclass
class Failure:
    status: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    type: str = "server_error"
    code: str | None = None
    param: str | None = None


def rate_limited(retry_after_s: float | None = None, *, model: str = "gpt-4o-mini") -> Failure:
    """429 rate_limit_exceeded (requests per minute), with Retry-After when given."""
    headers = {} if retry_after_s is None else {"retry-after": f"{retry_after_s:g}"}
    return Failure(
        429,
        f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        headers,
        type="requests",
        code="rate_limit_exceeded",
    )


def quota_exhausted(code: str = "insufficient_quota") -> Failure:
    """429 insufficient_quota: no credit left, or a spend or usage limit reached."""
    return Failure(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code=code,
    )


def invalid_api_key() -> Failure:
    return Failure(
        401,
        "Incorrect API key provided: sk-test-********0000. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        type="invalid_request_error",
        code="invalid_api_key",
    )


def context_length_exceeded() -> Failure:
    return Failure(
        400,
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130412 tokens. Please reduce the length of the messages.",
        type="invalid_request_error",
        code="context_length_exceeded",
        param="messages",
    )


def is_reasoning_model(model: str) -> bool:
    """The fake's own reading of OpenAI's model families (not salonbot's)."""
    name = model.split("/")[-1]
    if name.startswith("gpt-5"):
        return "-chat" not in name
    return len(name) > 1 and name[0] == "o" and name[1].isdigit()


def unsupported_parameter(body: dict[str, Any]) -> Failure | None:
    """The API's 400 for a reasoning model's request with `max_tokens` or a temperature."""
    if not is_reasoning_model(str(body.get("model", ""))):
        return None
    if "max_tokens" in body:
        return Failure(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            type="invalid_request_error",
            code="unsupported_parameter",
            param="max_tokens",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return Failure(
            400,
            f"Unsupported value: 'temperature' does not support {temperature} with this "
            "model. Only the default (1) value is supported.",
            type="invalid_request_error",
            code="unsupported_value",
            param="temperature",
        )
    return None


@dataclass
class Slow:
    seconds: float
    then: Step


@dataclass
class Garbage:
    body: bytes = b"<html>bad gateway</html>"


@dataclass
class Raw:
    body: dict[str, Any]


@dataclass
class ModelRequest:
    """One request as the server received it."""

    body: dict[str, Any]
    prompt_tokens: int

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def system(self) -> str:
        first = self.messages[0] if self.messages else {}
        return str(first.get("content", "")) if first.get("role") == "system" else ""

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""

    def tool_results(self) -> list[dict[str, Any]]:
        """Results of the tool calls answered at the end of the conversation, in order."""
        results: list[dict[str, Any]] = []
        for message in reversed(self.messages):
            if message.get("role") != "tool":
                break
            results.append(json.loads(message["content"]))
        return list(reversed(results))

    def tool_result(self) -> dict[str, Any]:
        results = self.tool_results()
        assert results, "the request ends with no tool results"
        return results[-1]

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or ()]


Step = Answer | Failure | Slow | Garbage | Raw | Callable[[ModelRequest], "Step"]


class FakeOpenAI:
    def __init__(self, *, model: str = "gpt-4o-mini") -> None:
        self.model = model
        self.requests: list[ModelRequest] = []
        self.unscripted: list[ModelRequest] = []
        self.script_errors: list[str] = []
        # GET /models (the health check): how many came, and the status they get.
        self.model_list_requests = 0
        self.models_status = 200
        self._script: deque[Step] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        # POST /audio/transcriptions: what each audio file says, and the requests made.
        self.transcripts: dict[bytes, Transcription] = {}
        self.transcription_requests: list[TranscriptionRequest] = []

    # -- control --------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers (40 ms on Linux) on
            # kept-alive connections, a stall real API servers (TCP_NODELAY) never add.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                if self.path.rstrip("/").endswith("/audio/transcriptions"):
                    answer_transcription(fake, self)
                    return
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle_get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def add(self, *steps: Step) -> None:
        with self._lock:
            self._script.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.unscripted.clear()

    # -- HTTP -----------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        if not handler.path.rstrip("/").endswith("/chat/completions"):
            self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        request = ModelRequest(body, count_request(body))
        refused = unsupported_parameter(body)
        if refused is not None:
            with self._lock:
                self.requests.append(request)
            self._play(handler, request, refused)
            return
        with self._lock:
            self.requests.append(request)
            step = self._script.popleft() if self._script else None
        if step is None:
            self.unscripted.append(request)
            self._send(
                handler, 500, {"error": {"message": "the fake model has no scripted answer"}}
            )
            return
        self._play(handler, request, step)

    def _handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        if not handler.path.rstrip("/").endswith("/models"):
            self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        with self._lock:
            self.model_list_requests += 1
        if self.models_status != 200:
            self._send(handler, self.models_status, {"error": {"message": "scripted failure"}})
            return
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}
        self._send(handler, 200, {"object": "list", "data": [model]})

    def _play(self, handler: BaseHTTPRequestHandler, request: ModelRequest, step: Step) -> None:
        while callable(step):
            try:
                step = step(request)
            except Exception as exc:  # a broken script: make it visible, answer 500
                self.script_errors.append(f"{type(exc).__name__}: {exc}")
                step = Failure(500, f"the scripted step failed: {exc}")
        if isinstance(step, Slow):
            time.sleep(step.seconds)
            self._play(handler, request, step.then)
        elif isinstance(step, Failure):
            error = {
                "message": step.message,
                "type": step.type,
                "param": step.param,
                "code": step.code,
            }
            self._send(handler, step.status, {"error": error}, step.headers)
        elif isinstance(step, Garbage):
            self._send_raw(handler, 200, step.body, {"Content-Type": "application/json"})
        elif isinstance(step, Raw):
            self._send(handler, 200, step.body)
        else:
            self._send(handler, 200, self._completion(request, step))

    def _completion(self, request: ModelRequest, answer: Answer) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.content,
            "refusal": answer.refusal,
            "annotations": answer.annotations,
        }
        completion_tokens = count_text(answer.content or "") + count_text(answer.refusal or "")
        if answer.tool_calls:
            message["tool_calls"] = []
            for call in answer.tool_calls:
                call_id = call.id or f"call_{next(self._ids)}"
                if isinstance(call, CustomToolCall):
                    completion_tokens += 3 + count_text(call.name) + count_text(call.input)
                    message["tool_calls"].append(
                        {
                            "id": call_id,
                            "type": "custom",
                            "custom": {"name": call.name, "input": call.input},
                        }
                    )
                    continue
                arguments = call.raw_arguments()
                completion_tokens += 3 + count_text(call.name) + count_text(arguments)
                message["tool_calls"].append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": arguments},
                    }
                )
        completion_tokens += answer.reasoning_tokens
        usage = {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": request.prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": answer.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        finish_reason = answer.finish_reason or ("tool_calls" if answer.tool_calls else "stop")
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": answer.logprobs,
                    "finish_reason": finish_reason,
                }
            ],
            **({} if answer.no_usage else {"usage": usage}),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self._send_raw(
            handler, status, data, {"Content-Type": "application/json", **(headers or {})}
        )

    def _send_raw(
        self, handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


# -- audio transcriptions -------------------------------------------------------------------


@dataclass(frozen=True)
class Transcription:
    """What a scripted audio file says, and how long it is."""

    text: str
    seconds: float = 3.0


@dataclass(frozen=True)
class TranscriptionRequest:
    model: str
    file_name: str
    content_type: str
    audio: bytes
    authorization: str | None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, tuple[str, str, bytes]]:
    """A multipart/form-data body's fields: name -> (file name, content type, bytes)."""
    import email.parser
    import email.policy

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (
                part.get_filename() or "",
                part.get_content_type(),
                payload if isinstance(payload, bytes) else b"",
            )
    return fields


def answer_transcription(self: FakeOpenAI, handler: BaseHTTPRequestHandler) -> None:
    """`POST /v1/audio/transcriptions` as the API reference answers it: `{"text",
    "usage"}` (tokens for the gpt-4o transcribe models, seconds for whisper-1), or an
    `invalid_request_error` naming `param` for a request without a model or a file."""
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length)
    if not (handler.headers.get("Authorization") or "").startswith("Bearer "):
        self._send(handler, 401, _error("invalid_api_key", "invalid_request_error", None))
        return
    fields = _multipart_fields(handler.headers.get("Content-Type") or "", raw)
    model = fields.get("model", ("", "", b""))[2].decode()
    for param, present in (("model", bool(model)), ("file", "file" in fields)):
        if not present:
            self._send(handler, 400, _error(None, "invalid_request_error", param))
            return
    file_name, content_type, audio = fields["file"]
    with self._lock:
        self.transcription_requests.append(
            TranscriptionRequest(
                model, file_name, content_type, audio, handler.headers.get("Authorization")
            )
        )
        known = self.transcripts.get(audio)
    if known is None:
        self._send(handler, 400, _error(None, "invalid_request_error", "file"))
        return
    if model == "whisper-1":
        usage: dict[str, Any] = {"type": "duration", "seconds": known.seconds}
    else:
        audio_tokens = max(1, round(known.seconds * 10))
        output_tokens = count_text(known.text)
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": output_tokens,
            "total_tokens": audio_tokens + output_tokens,
        }
    self._send(handler, 200, {"text": known.text, "usage": usage})


def _error(code: str | None, kind: str, param: str | None) -> dict[str, Any]:
    message = f"Invalid request: {param}" if param else "Incorrect API key provided."
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
