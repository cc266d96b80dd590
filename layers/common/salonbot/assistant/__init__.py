"""The assistant: LLM agent, guided no-LLM flow, and the router between them."""
