"""Cross-region replication: catalog metadata (PostgreSQL) and feature data (Kafka)."""
