"""``infra secrets recover-state <env> [--dry-run]``: re-import every generated secret from Key Vault into a
fresh Terraform state (docs/disaster-recovery.md, case 2)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("secrets", help="generated secrets: disaster recovery")
    actions = group.add_subparsers(dest="secrets_command", required=True, parser_class=type(group))
    recover = actions.add_parser(
        "recover-state",
        help="after Terraform state loss: import every generated secret of an environment from its Key Vault",
        description="Reads each generated secret of ENVIRONMENT from the environment's Key Vault (az CLI), "
                    "imports its random resource and Key Vault secret into the environment's state, and sets "
                    "the imported resources' keepers and policy arguments to the configuration, so the next "
                    "deploy changes no secret. Needs `make synth`, `terraform init` in "
                    "cdktf.out/stacks/<env> and `az login`; --dry-run needs none of them.")
    recover.add_argument("environment", help="the environment whose state was lost")
    recover.add_argument("--dry-run", action="store_true",
                         help="print every step with values redacted; call neither az nor terraform")
    recover.set_defaults(handler=_recover_state)


def _recover_state(args: argparse.Namespace) -> int:
    from infra.recovery.state_recovery import build_plan, describe, recover

    plan = build_plan(args.environment)
    if args.dry_run:
        describe(plan)
    else:
        recover(plan)
    return 0
