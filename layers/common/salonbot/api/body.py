"""How the API reads a JSON request body.

Python's parser recurses once per nesting level and raises `RecursionError` past about a
thousand: a body of 3,000 nested arrays would escape the validation layer as a 500. Here
it is a JSON decode error like any other malformed body, which the validation layer
answers with 422 (`json_invalid`)."""

from __future__ import annotations

import json
from typing import Any


def load_json_body(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
