"""What every side of Granary shares: errors, descriptions, the wire format, frames, schema.

A leaf: it imports none of ``granary``, ``data_plane``, ``tenancy`` or ``control_plane``,
so importing it never runs the SDK's ``__init__``.
"""
