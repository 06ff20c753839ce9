"""``hsfs.builtin_transformations``: Granary's built-in model-dependent transformations."""

from granary.builtin_transformations import *  # noqa: F403
from granary.builtin_transformations import __all__  # noqa: F401
