"""The local stack behind `make dev`: embedded PostgreSQL, moto, an API Gateway-style HTTP
gateway, an SQS poller and the schedules, all built from `template.yaml`."""
