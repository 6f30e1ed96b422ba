"""Launchers start one fresh process per task: a local child process, or a container."""

from __future__ import annotations

from typing import Any

from harness.errors import UserError
from harness.launch.base import Launcher

LAUNCHERS = ("local", "docker")


def make_launcher(name: str, **options: Any) -> Launcher:
    if name == "local":
        from harness.launch.local import LocalLauncher

        return LocalLauncher(**options)
    if name == "docker":
        from harness.launch.docker import DockerLauncher

        return DockerLauncher(**options)
    raise UserError(f"Unknown launcher '{name}'; valid launchers: {', '.join(LAUNCHERS)}.")
