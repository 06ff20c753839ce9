"""Remote ingestion: inserts go through Kafka, a materializer writes them.

``topics`` names and creates a feature group's topic, ``messages`` is the record
format, ``gateway`` is what the REST API calls (validate, produce with acks=all,
optionally wait), ``materializer`` consumes and writes offline + online exactly once.
"""
