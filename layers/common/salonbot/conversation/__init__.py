"""Conversation memory: `ai_conversations` and `ai_messages`."""
