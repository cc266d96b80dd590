"""PostgreSQL connection handling and schema migrations."""
