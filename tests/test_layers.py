"""The package's layers import downward only: a module may import from its own layer's package or a
lower layer, never from one above (imports inside functions included, so a cycle cannot hide there)."""

from __future__ import annotations

import ast
from pathlib import Path

import occlurestyle

# lowest first; a name is a top-level module or subpackage of occlurestyle
LAYERS = [
    ["errors", "_numba_setup"],
    ["fsutil"],
    ["media", "cameras", "models", "motion"],
    ["layout"],
    ["person_masks"],
    ["render"],
    ["recon"],
    ["stylize"],
    ["occlusion"],
    ["stages"],
    ["pipeline"],
    ["viewer"],
    ["eval", "scenes"],
    ["batch"],
    ["cli", "__init__"],
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
ROOT = Path(occlurestyle.__file__).parent


def _unit(module: str) -> str:
    """occlurestyle.recon.trainer → recon; occlurestyle → __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, absolute module) of every occlurestyle import in `source`, a module of `package`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            else:
                targets = [node.module or ""]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, t) for t in targets if t == "occlurestyle" or t.startswith("occlurestyle.")]
    return found


def test_every_module_is_in_a_layer():
    units = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert units - set(LEVEL) == set(), "add new modules to LAYERS"


def test_imports_run_downward():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        package = list(path.relative_to(ROOT.parent).parts[:-1])
        for line, target in _imports(path.read_text(), package):
            if LEVEL[_unit(target)] > LEVEL[_unit(module)]:
                upward.append(f"{path.relative_to(ROOT.parent)}:{line} imports {target}")
    assert upward == []


def test_the_check_reads_relative_and_function_level_imports():
    source = "from ..render import gaussians\n\ndef f():\n    from ..stylize.regions import camera_up\n"
    found = _imports(source, ["occlurestyle", "recon"])
    assert found == [(1, "occlurestyle.render"), (4, "occlurestyle.stylize.regions")]
    assert LEVEL[_unit(found[1][1])] > LEVEL["recon"]  # the one the suite would report
