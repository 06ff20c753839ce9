"""The layers run one way: the core is a leaf, and every module imports on its own.

Each check runs in a fresh interpreter: this test process has already imported the
SDK (conftest), which would hide exactly the cycles being looked for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_every_module_imports_alone_in_a_fresh_interpreter():
    result = run(sys.executable, "tests/import_alone.py")
    print(result.stdout[-20_000:], result.stderr[-5_000:])
    assert result.returncode == 0, result.stdout[-20_000:]


def test_import_contracts_hold():
    """pyproject's [tool.importlinter] contracts: what each package may import."""
    result = run(str(BIN / "lint-imports"), "--no-cache")
    print(result.stdout[-10_000:])
    assert result.returncode == 0, result.stdout[-10_000:] + result.stderr[-2_000:]
    assert "0 broken" in result.stdout


def test_importing_the_core_never_runs_the_sdk():
    code = (
        "import sys, granary_core.errors, granary_core.frames, granary_core.schema, "
        "granary_core.specs, granary_core.sqltypes, granary_core.transformation_specs, "
        "granary_core.wire\n"
        "above = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'granary', 'data_plane', 'tenancy', 'control_plane'})\n"
        "print(above)\n"
        "sys.exit(1 if above else 0)\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_users_still_name_errors_granary_errors():
    """``granary.errors`` re-exports every class of the one tree, the same objects."""
    import granary
    import granary_core.errors as core

    tree = [c for c in vars(core).values() if isinstance(c, type) and issubclass(c, core.GranaryError)]
    public = [c for c in tree if not c.__name__.startswith("_")]
    assert len(public) > 20
    for cls in public:
        assert getattr(granary.errors, cls.__name__) is cls, cls.__name__
    assert granary.errors.error_from_dict is core.error_from_dict
    try:
        raise core.SchemaMismatch("feature group 'tx' v1: column 'amount' is string, expected float64")
    except granary.errors.InvalidInput as exc:
        assert exc.code == "schema_mismatch"
