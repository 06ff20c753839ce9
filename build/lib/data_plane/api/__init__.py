"""The data plane's REST API (FastAPI): metadata operations, writes, online vectors.

Bulk reads (feature group reads, query results, training data) go through the Arrow
Flight server in :mod:`data_plane.flight`; this API tells clients where it is.
"""
