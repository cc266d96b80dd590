"""WhatsApp's side of a conversation, on 127.0.0.1: the Cloud API send endpoint the salon
replies through (`whatsapp`), a customer's phone posting signed webhooks (`customer`),
and a conversation of the two with a running stack (`conversation`). The local stack,
the tests and the benchmarks use them."""
