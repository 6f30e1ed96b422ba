"""The launcher registry: where each task's fresh process runs.

Adding a launcher is one module (a ``Launcher`` subclass with its ``Config`` and ``options``)
plus one line in ``LAUNCHERS``.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from harness.errors import UserError
from harness.launch.base import Launcher, Option
from harness.plan import RunPlan

#: name -> "module:Class"
LAUNCHERS: dict[str, str] = {
    "local": "harness.launch.local:LocalLauncher",
    "docker": "harness.launch.docker:DockerLauncher",
    "slurm": "harness.launch.slurm:SlurmLauncher",
}


def launcher_class(name: str) -> type[Launcher]:
    if name not in LAUNCHERS:
        raise UserError(f"Unknown launcher '{name}'; valid launchers: {', '.join(LAUNCHERS)}.")
    module_name, _, class_name = LAUNCHERS[name].partition(":")
    cls: type[Launcher] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _owners() -> dict[str, tuple[Option, list[str]]]:
    """Every launcher option by destination: the option and the launchers that take it."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for name in LAUNCHERS:
        for option in launcher_class(name).options:
            found.setdefault(option.dest, (option, []))[1].append(name)
    return found


def add_options(parser: argparse.ArgumentParser) -> None:
    """The launchers' options: one group for those several launchers share (each says which),
    then one group per launcher for its own."""
    owners = _owners()
    shared = [(option, users) for option, users in owners.values() if len(users) > 1]
    groups: list[tuple[str, list[tuple[Option, list[str]]]]] = [
        ("options of several launchers", shared)
    ]
    for name in LAUNCHERS:
        own = [(o, users) for o, users in owners.values() if users == [name]]
        groups.append((f"{name} launcher", own))
    for title, options in groups:
        if not options:
            continue
        group = parser.add_argument_group(title)
        for option, users in options:
            prefix = "" if len(users) == 1 else f"{', '.join(users)}: "
            group.add_argument(
                option.flag,
                dest=option.dest,
                default=argparse.SUPPRESS,  # absent unless given: foreign options are caught
                metavar=option.metavar,
                help=prefix + option.help,
                action="append" if option.many else "store",
            )


def config_from_args(name: str, args: argparse.Namespace) -> Any:
    """The launcher's config from the options given; an option of another launcher is an
    error naming the launcher(s) it works with."""
    cls = launcher_class(name)
    own = {option.dest: option for option in cls.options}
    for dest, (option, users) in _owners().items():
        if dest in vars(args) and dest not in own:
            raise UserError(f"{option.flag} works with --launcher {' or '.join(users)} only.")
    values = {
        dest: option.value(getattr(args, dest))
        for dest, option in own.items()
        if dest in vars(args)
    }
    return cls.Config(**values)


def make_launcher(name: str, config: Any = None) -> Launcher:
    return launcher_class(name)(config)


def check_capabilities(launcher: Launcher, plan: RunPlan) -> None:
    """Refuse, in one sentence (UserError, exit 2), a plan ``launcher`` cannot run: a measure
    or a device its ``capabilities`` do not name. Called once per run, before anything runs."""
    can = launcher.capabilities
    for measure in dict.fromkeys(task.measure for task in plan.tasks):
        if not can.runs(measure):
            able = [name for name in LAUNCHERS if launcher_class(name).capabilities.runs(measure)]
            where = f"the {' or '.join(able)} launcher only" if able else "no launcher"
            raise UserError(
                f"--measure {measure} runs with {where}; the {launcher.name} launcher cannot "
                "run it."
            )
    if not can.cuda and any(task.device == "cuda" for task in plan.tasks):
        raise UserError(
            f"The {launcher.name} launcher cannot run CUDA tasks; run with --device cpu or "
            "another --launcher."
        )
