"""Identity and policy shared by the data plane and (later) the control plane.

Today: API keys bound to one project each (:mod:`tenancy.keys`, :mod:`tenancy.store`)
and the rule that a key reaches its own project only (:mod:`tenancy.scope`).
Roles, tenants and quotas grow here.
"""
