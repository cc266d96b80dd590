"""The processor, the assistant and their fakes, on real PostgreSQL and local HTTP."""
