"""The control plane's REST API (FastAPI)."""
