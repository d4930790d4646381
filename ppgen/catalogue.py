"""What ``ppgen list`` prints: every registered name with its one-line description, by section.

The registries (:mod:`ppgen.registry`) are the source. Reading them imports every model and
estimator, hence torch and Pyro, which would make ``ppgen list`` take seconds; so a copy of ppgen's
own entries is stored in ``ppgen/catalogue.json``, generated, never edited by hand:

    python -m ppgen.catalogue          # rewrite ppgen/catalogue.json from the registries

A test (``tests/test_catalogue.py``) keeps the copy equal to the registries. ``ppgen list`` prints
the copy, plus whatever this process registered besides (a user's own entries).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .registry import REGISTRIES, Entry

CATALOGUE = Path(__file__).parent / "catalogue.json"
HEADINGS = {
    "models": "models:",
    "presets": "presets (ppgen fit NAME = a model with its loss):",
    "flows": "flows (FlowDensity(flow=...), VAE guides and priors):",
    "estimators": "estimators:",
    "losses": "losses (ppgen fit MODEL --loss NAME; for models without a likelihood):",
    "data sets": "data sets:",
}


def describe(section: str, entry: Entry) -> str:
    """An entry's line in the catalogue: its description (a preset's with its model and loss)."""
    if section == "presets":
        return f"{entry.description}: {entry.value.model} --loss {entry.value.loss}"
    return entry.description


def is_ppgens_own(entry: Entry) -> bool:
    return entry.module == "ppgen" or entry.module.startswith("ppgen.")


def live_catalogue() -> dict[str, dict[str, str]]:
    """ppgen's own registered names by section, read from the registries (imports torch)."""
    return {
        section: {
            name: describe(section, entry)
            for name, entry in registry.entries().items()
            if is_ppgens_own(entry)
        }
        for section, registry in REGISTRIES.items()
    }


def stored_catalogue() -> dict[str, dict[str, str]]:
    return json.loads(CATALOGUE.read_text())


def catalogue() -> dict[str, dict[str, str]]:
    """The stored catalogue, with the entries registered in this process from outside ppgen."""
    listing = stored_catalogue() if CATALOGUE.is_file() else live_catalogue()
    for section, registry in REGISTRIES.items():
        for name, entry in registry.loaded_entries().items():
            if not is_ppgens_own(entry):
                listing[section][name] = describe(section, entry)
    return listing


def write_catalogue(path: Path = CATALOGUE) -> None:
    path.write_text(json.dumps(live_catalogue(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write_catalogue()
    print(f"wrote {CATALOGUE}", file=sys.stderr)
