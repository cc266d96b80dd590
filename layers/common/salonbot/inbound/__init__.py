"""The webhook's path in: Meta's request checked, each message recorded as seen in
DynamoDB and put on the SQS FIFO queue once, and the HTTP answer Meta acts on."""
