"""The processor: customer messages from the queue (or the HTTP API) through the
conversation, the assistant and the booking core, and the reply back to WhatsApp."""
