"""Load the very `functions/*/app.py` handlers by path and invoke them with a Lambda-like
context. Every function's module is called `app`, so each is imported under a unique name.

One invocation runs at a time per function, as with one warm container each. The
functions that reach PostgreSQL share one lock besides: in AWS each has its own
container, here they share this process and the package's per-container database
connection. So a webhook is acknowledged while the processor works, as in AWS."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from salonbot_dev.local.functions import FunctionSpec

# A function whose environment names a database shares the database lock.
DATABASE_SETTINGS = ("DATABASE_URL", "DB_SECRET_ARN")
DATABASE_LOCK = "database"

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def invocation_lock(spec: FunctionSpec) -> threading.RLock:
    """The lock one invocation of this function holds."""
    uses_database = any(spec.environment.get(name) is not None for name in DATABASE_SETTINGS)
    key = DATABASE_LOCK if uses_database else spec.logical_id
    with _locks_guard:
        return _locks.setdefault(key, threading.RLock())


def load_handler(code_dir: Path, handler: str, *, module_prefix: str = "local_fn") -> Any:
    """The callable `handler` (`module.function`) names inside `code_dir`."""
    module_name, _, function_name = handler.rpartition(".")
    path = code_dir / (module_name.replace(".", "/") + ".py")
    # The folder's path in the name: two projects' `functions/x/app.py` stay apart.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    unique = f"{module_prefix}_{code_dir.name}_{module_name.replace('.', '_')}_{digest}"
    module = sys.modules.get(unique)
    if module is None:
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[unique]
            raise
    return getattr(module, function_name)


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from the Lambda context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """A template function ready to invoke in this process."""

    spec: FunctionSpec
    region: str = "us-east-1"
    account_id: str = "123456789012"
    _handler: Any = None

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def handler(self) -> Any:
        if self._handler is None:
            self._handler = load_handler(self.spec.code_dir, self.spec.handler)
        return self._handler

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_mb,
            timeout_s=self.spec.timeout_s,
            invoked_function_arn=(
                f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"
            ),
        )

    def invoke(self, event: Any) -> Any:
        handler = self.handler()
        with invocation_lock(self.spec):
            return handler(event, self.context())
