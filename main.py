"""cdktf app entry point (``cdktf.json`` "app"): every environment in ``environments/`` becomes a stack."""

import sys

from infra.app import main

if __name__ == "__main__":
    sys.exit(main())
