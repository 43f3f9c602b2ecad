"""One whole synth in this process, timed by phase, for ``infra.bench`` (which starts it in a fresh interpreter).

``python -m infra.bench_probe OUTDIR`` synthesizes every environment (or those in ``INFRA_STACKS``) into OUTDIR
(the environments, versions and import mode come from the usual ``INFRA_*`` variables) and prints one JSON
line: wall-clock timestamps at the start of each phase (``config`` = environment and release files and the
selection, ``imports`` = cdktf, building blocks and provider packages, ``construct`` = the construct tree,
``synth`` = writing the JSON), how many stacks it built, how many provider submodules the process imported,
whether deferred imports were active, and this process's own peak RSS. The phases after the last timestamp
(interpreter teardown, jsii kernel shutdown) are measured by the caller.
"""

from __future__ import annotations

import json
import resource
import sys
import time

STARTED = time.time()


def _provider_submodules() -> int:
    return sum(1 for name in sys.modules if name.startswith("cdktf_cdktf_provider_") and name.count(".") == 1
               and not name.endswith(("._jsii", "._private")))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.bench_probe OUTDIR", file=sys.stderr)
        return 2
    marks = {"config": time.time()}
    from infra.app import select_stacks
    from infra.registry import load_registry
    from infra.versions import load_releases

    registry = load_registry()
    releases = load_releases(registry)
    stacks = select_stacks(registry)  # INFRA_STACKS, as main.py reads it; every stack when unset
    marks["imports"] = time.time()
    from infra import lazy_providers, runtime

    runtime.prepare()
    import cdktf  # noqa: F401  (timed: the imports phase)

    import infra.stacks  # noqa: F401  (timed: every building block and the provider submodules they use)
    from infra.app import build_app

    marks["construct"] = time.time()
    app = build_app(registry, outdir=argv[0], releases=releases, stacks=stacks)
    marks["synth"] = time.time()
    app.synth()
    marks["done"] = time.time()
    print(json.dumps({
        "started": STARTED,
        "marks": marks,
        "stacks": len(stacks),
        "deferred_imports": lazy_providers.active(),
        "provider_submodules_loaded": _provider_submodules(),
        "python_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
