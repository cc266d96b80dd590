"""Local fakes over real HTTP on 127.0.0.1: an OpenAI-compatible chat completions server."""
