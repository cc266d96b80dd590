"""WhatsApp Cloud API: signature check, payload models, send client."""
