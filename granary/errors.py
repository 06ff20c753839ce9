"""Granary's errors as users name them: ``granary.errors.SchemaMismatch``.

The tree itself, drawn in its docstring, is :mod:`granary_core.errors`: the services
share it without importing the SDK. This module only re-exports it.
"""

from granary_core.errors import *  # noqa: F403
