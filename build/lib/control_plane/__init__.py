"""The global control plane: tenants, plans, signup, projects, members, API keys,
quotas, usage and the audit log. Its own PostgreSQL database and Alembic history.

Build the service with :func:`control_plane.api.app.create_app`.
"""
