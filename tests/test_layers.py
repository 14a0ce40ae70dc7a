"""Import arrows point one way: voicebot -> telephony -> dialogue | audio_models (the contract is
`[tool.importlinter]` in pyproject.toml, checked by `lint-imports`), and no two modules of one
package import each other, directly or through others (found with grimp, which import-linter
installs).  Function-level and TYPE_CHECKING imports count: they are arrows too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT_PACKAGES = ("voicebot", "telephony", "dialogue", "audio_models")


def test_the_layers_contract_holds():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"


def cycles_in(package: str) -> list[str]:
    """Each group of the package's modules that import one another, as one cycle through them."""
    graph = grimp.build_graph(package, cache_dir=None)
    upstream = {m: graph.find_upstream_modules(m) for m in graph.modules}
    groups = {frozenset({m, *(o for o in upstream[m] if m in upstream[o])})
              for m in graph.modules if any(m in upstream[o] for o in upstream[m])}
    cycles = []
    for group in sorted(groups, key=sorted):
        first, *rest = sorted(group)
        there = graph.find_shortest_chain(importer=first, imported=rest[0])
        back = graph.find_shortest_chain(importer=rest[0], imported=first)
        cycles.append(" -> ".join([*there, *back[1:]]) + f"  ({len(group)} modules: {', '.join(sorted(group))})")
    return cycles


@pytest.mark.parametrize("package", ROOT_PACKAGES)
def test_no_import_cycles_inside_a_package(package):
    cycles = cycles_in(package)
    assert not cycles, ("modules that import each other (move what both need into a third module):\n"
                        + "\n".join(cycles))
