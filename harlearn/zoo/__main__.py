"""The zoo's command line: ``python -m harlearn.zoo list | info NAME | build NAME... | build all``.

``list`` prints each shipped checkpoint (and the recipes not built yet); ``info NAME`` prints
its manifest entry as JSON; ``build`` trains checkpoints from their recipes
(:func:`harlearn.zoo.build`) and registers them; ``build all`` is ``make zoo``. ``--registry DIR``
(or ``$HARLEARN_ZOO``) works on another registry folder. Errors print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m harlearn.zoo --help``)."""
    from . import recipes, registry
    from .build import build as build_entry  # the function: the name ``build`` in the package is it, not the module

    p = argparse.ArgumentParser(prog="python -m harlearn.zoo", description="The course checkpoints.")
    p.add_argument("--registry", default=None, help="registry folder (default $HARLEARN_ZOO or the package's)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the checkpoints and recipes")
    q = sub.add_parser("info", help="one checkpoint's manifest entry, as JSON")
    q.add_argument("name")
    b = sub.add_parser("build", help="train checkpoints from their recipes ('all': every one)")
    b.add_argument("names", nargs="+")
    b.add_argument("--device", default=None)
    b.add_argument("--no-resume", action="store_true", help="start over instead of resuming an interrupted build")
    a = p.parse_args(argv)
    try:
        if a.command == "list":
            entries = registry.read_manifest(a.registry)["checkpoints"]
            for name in sorted(set(entries) | set(recipes.RECIPES)):
                e = entries.get(name)
                if e is None:
                    print(f"{name:<18} not built (python -m harlearn.zoo build {name})")
                    continue
                fresh = name in recipes.RECIPES and recipes.RECIPES[name].as_dict() == e["recipe"]
                vm = e["pretraining"].get("val_map")
                print(f"{name:<18} {e['architecture']:<12} {e['bytes'] / 2**20:6.2f} MiB  {len(e['history'])} epochs"
                      f"  val mAP {vm if vm is None else f'{vm:.3f}'}  {'' if fresh else '(recipe changed since: rebuild)'}")
            return 0
        if a.command == "info":
            print(json.dumps(registry.info(a.name, a.registry), indent=1))
            return 0
        names = recipes.names() if a.names == ["all"] else a.names
        for name in names:
            recipes.recipe(name)  # an unknown name fails before anything is trained
        for name in names:
            t0 = time.perf_counter()
            entry = build_entry(name, a.registry, device=a.device, resume=not a.no_resume, progress=sys.stderr.isatty())
            print(f"built {name}: {entry['file']} ({entry['bytes'] / 2**20:.2f} MiB, sha256 {entry['sha256'][:12]}...)"
                  f" in {time.perf_counter() - t0:.0f} s", flush=True)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
