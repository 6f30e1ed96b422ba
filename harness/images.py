"""Build the CPU and CUDA images offline: a wheelhouse prepared on the host, then ``docker
build`` with no network inside (the Dockerfiles install with ``--no-index``).

    docker/wheelhouse/<target>/   every dependency's wheel + requirements.txt (from the lock)
    docker/wheelhouse/project/    this project's own wheel
    docker/wheelhouse/debs/<base>/  a C/C++ compiler's .debs for a base that has none
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.machine.environment import PROJECT_ROOT

IMAGE_ALIASES = {"cpu": "harness:cpu", "cuda": "harness:cuda"}
# [registry[:port]/]name[/name...][:tag][@sha256:digest], lower-case names as Docker requires.
IMAGE_PATTERN = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


def resolve_image(name: str) -> str:
    """cpu / cuda / a Docker image reference -> the tag to run."""
    tag = IMAGE_ALIASES.get(name, name)
    if len(tag) > 255 or not IMAGE_PATTERN.fullmatch(tag):
        raise UserError(
            f"{name!r} is not a valid image name; use cpu, cuda or a Docker image reference "
            "like registry.example.com/team/harness:cpu."
        )
    return tag


# The Python inside the default base of both images (python:3.11-slim, Debian bookworm; the
# CUDA image needs no nvidia/cuda base: the CUDA libraries come as nvidia-* wheels and the
# NVIDIA Container Toolkit adds the driver at run time): the wheelhouse is downloaded for it,
# whatever Python the host runs. pip takes --platform tags literally: list every manylinux
# glibc level the base satisfies (Debian bookworm has glibc 2.36).
PLATFORMS = (
    "manylinux2014_x86_64",
    *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)),
    "linux_x86_64",
)
TARGETS = {
    "cpu": {
        "python": "3.11",
        "extras": ("torch", "tensorflow"),
        "dockerfile": "docker/cpu.Dockerfile",
        "tag": "harness:cpu",
    },
    "cuda": {
        "python": "3.11",
        "extras": ("torch", "vision", "tensorflow-cuda", "cupy", "gpu"),
        "dockerfile": "docker/cuda.Dockerfile",
        "tag": "harness:cuda",
        # its own lock: torch's CUDA build and TensorFlow's CUDA wheels (lock-cuda.sh)
        "constraints": "requirements/constraints-cuda.txt",
    },
}
WHEELHOUSE = PROJECT_ROOT / "docker" / "wheelhouse"
DEFAULT_BASE = "python:3.11-slim"  # the Dockerfiles' ARG BASE
# Run in the base: prints the Debian packages it lacks for torch.compile (inductor's C++ on the
# CPU, Triton's C launcher on the GPU): a C and a C++ compiler, libc's headers, Python.h.
TOOLCHAIN_PROBE = r"""
missing=""
command -v gcc >/dev/null || missing="$missing gcc libc6-dev"
command -v g++ >/dev/null || missing="$missing g++"
python3 -c "import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
  || missing="$missing python3-dev"
echo "missing:$missing"
"""


def constraints_for(target: str) -> Path:
    return PROJECT_ROOT / _target(target).get("constraints", "requirements/constraints.txt")


def _target(name: str) -> dict[str, Any]:
    if name not in TARGETS:
        raise UserError(f"Unknown image target '{name}'; valid targets: {', '.join(TARGETS)}.")
    return TARGETS[name]


def requirements_for(target: str) -> list[str]:
    """Core dependencies plus the target's extras, from pyproject.toml."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in _target(target)["extras"]:
        requirements += project["optional-dependencies"][extra]
    return requirements


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, check=False, env=env)
    if done.returncode != 0:
        raise UserError(f"pip {args[0]} failed (exit {done.returncode}); see its output above.")


def prepare_wheelhouse(target: str) -> Path:
    """Download every wheel the image needs (pip skips files already there); build ours."""
    folder = WHEELHOUSE / target
    folder.mkdir(parents=True, exist_ok=True)
    requirements = requirements_for(target)
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    env = None
    if target == "cuda":
        # local wheel folders (find-links) may hold torch's CPU build, which satisfies the pin
        env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_CONSTRAINT")}
        env["PIP_CONFIG_FILE"] = os.devnull
    _pip(
        "download",
        "--quiet",
        "--dest",
        str(folder),
        "--only-binary",
        ":all:",
        "--python-version",
        _target(target)["python"],
        *platforms,
        "-c",
        str(constraints_for(target)),
        "-r",
        str(folder / "requirements.txt"),
        env=env,
    )
    if target == "cuda":
        cpu_builds = [p.name for p in folder.glob("torch-*+cpu*.whl")]
        if cpu_builds:
            raise UserError(
                f"The CUDA wheelhouse holds a CPU build of torch ({cpu_builds[0]}): remove it "
                f"from {folder} and check that the index serves torch's CUDA build (PyPI does)."
            )
    project = WHEELHOUSE / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(project), str(PROJECT_ROOT))
    return folder


def source_hash(target: str) -> str:
    """A digest of everything an image is built from: the project's code, its lock, the
    Dockerfile. An image labelled with another digest is stale."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted(
        [
            *PROJECT_ROOT.glob("harness/**/*.py"),
            *PROJECT_ROOT.glob("workloads/**/*.py"),
            PROJECT_ROOT / "pyproject.toml",
            constraints_for(target),
            PROJECT_ROOT / _target(target)["dockerfile"],
        ]
    )
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def image_source_hash(client: Any, tag: str) -> str | None:
    import docker

    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get("org.harness.source_hash", "")


def image_exists(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_image(
    target: str, tag: str | None = None, base: str | None = None, if_stale: bool = False
) -> str:
    """Build the target's image; with ``if_stale``, only when it is missing or was built from
    other sources than this checkout's."""
    from harness.machine.docker_client import docker_client

    spec = _target(target)
    tag = resolve_image(tag or spec["tag"])
    if base is not None and not IMAGE_PATTERN.fullmatch(base):
        raise UserError(
            f"--base {base!r} is not an image reference; give one like python:3.11-slim or "
            "harness-base:bookworm."
        )
    client = docker_client()
    wanted = source_hash(target)
    if if_stale and image_source_hash(client, tag) == wanted:
        print(f"harness: {tag} is up to date with this checkout ({wanted})", file=sys.stderr)
        return tag
    prepare_wheelhouse(target)
    build_args = {"SOURCE_HASH": wanted, **({"BASE": base} if base else {})}
    if target == "cuda":
        from harness.machine.gpu_preflight import image_cuda

        needed = image_cuda(constraints_for(target).read_text(encoding="utf-8"))
        if needed:  # NVIDIA_REQUIRE_CUDA and the org.harness.cuda label
            build_args["CUDA_VERSION"] = f"{needed[0]}.{needed[1]}"
    # Every package comes from the wheelhouse (--no-index): no network inside the build.
    network = "none"
    print(
        f"harness: building {tag} from {spec['dockerfile']}"
        + (f" on {base}" if base else "")
        + " (no network inside the build)",
        file=sys.stderr,
    )
    context = build_context(target, toolchain_debs(client, base or DEFAULT_BASE))
    stream = client.api.build(
        path=str(context),
        dockerfile=str(PROJECT_ROOT / spec["dockerfile"]),
        tag=tag,
        buildargs=build_args,
        rm=True,
        forcerm=True,
        decode=True,
        network_mode=network,
    )
    for chunk in stream:
        if "error" in chunk:
            message = str(chunk["error"]).strip()
            hint = ""
            if "pull access denied" in message or "not found" in message:
                hint = (
                    " The base image is missing and cannot be pulled: make one with "
                    "make base-image and pass --base harness-base:bookworm."
                )
            raise UserError(f"Building {tag} failed: {message}.{hint}")
        line = str(chunk.get("stream", "")).rstrip()
        if line:
            print(line, file=sys.stderr, flush=True)
    return tag


def missing_toolchain(client: Any, base: str) -> list[str]:
    """The Debian packages ``base`` lacks for torch.compile (TOOLCHAIN_PROBE, run in it with no
    network); [] when it has them all, or is not here and cannot be pulled (the build says so)."""
    import docker

    try:
        probe = client.containers.run(base, ["sh", "-c", TOOLCHAIN_PROBE], entrypoint=[],
                                      user="0", network_mode="none", remove=True)  # fmt: skip
    except (docker.errors.ContainerError, docker.errors.APIError):
        return []  # absent and not pullable (ImageNotFound is an APIError), or no sh
    return probe.decode().rpartition("missing:")[2].split()


def toolchain_debs(client: Any, base: str) -> Path | None:
    """The .debs a base lacks for torch.compile (see TOOLCHAIN_PROBE), downloaded once by the
    base's own apt in a container with the network (like pip download, a host-side step; the
    build itself stays offline), into docker/wheelhouse/debs/<base>/. None when the base has
    them all (a base from docker/bootstrap-base.sh) or is not here (the build then says so).
    UserError when they are missing and cannot be downloaded."""
    import docker

    missing = missing_toolchain(client, base)
    if not missing:
        return None
    folder = WHEELHOUSE / "debs" / re.sub(r"[^A-Za-z0-9._-]+", "-", base)
    if any(folder.glob("*.deb")):
        return folder
    (folder / "partial").mkdir(parents=True, exist_ok=True)
    script = (
        "apt-get update -qq && apt-get install -y -qq --download-only --no-install-recommends "
        f"-o Dir::Cache::archives=/debs {' '.join(missing)} && rm -rf /debs/partial /debs/lock "
        f"&& chown -R {os.getuid()}:{os.getgid()} /debs"
    )
    print(f"harness: downloading {' '.join(missing)} for {base} into {folder}", file=sys.stderr)
    try:
        client.containers.run(base, ["sh", "-c", script], entrypoint=[], user="0", remove=True,
                              volumes={str(folder): {"bind": "/debs", "mode": "rw"}})  # fmt: skip
    except (docker.errors.ContainerError, docker.errors.APIError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        said = getattr(error, "stderr", None) or str(error).encode()
        why = " ".join(said.decode("utf-8", "replace").split())[-200:]
        raise UserError(
            f"The base {base} has no {' '.join(missing)} (torch.compile needs them) and its apt "
            f"could not download them ({why}): build on a base "
            "that has them, like make base-image's harness-base:bookworm."
        ) from None
    return folder


def build_context(target: str, debs: Path | None = None) -> Path:
    """The build context of one target, and nothing else: its lock, its wheels, the project's
    wheel and the base's missing .debs (``debs``, may be empty), hard-linked (copied across
    filesystems) into docker/context/<target>, so the CPU build never sends the CUDA
    wheelhouse's gigabytes to the engine."""
    context = PROJECT_ROOT / "docker" / "context" / target
    shutil.rmtree(context, ignore_errors=True)
    (context / "wheels").mkdir(parents=True)
    (context / "project").mkdir()
    (context / "debs").mkdir()
    pairs = [(constraints_for(target), context / "constraints.txt")]
    if debs is not None:
        pairs += [(p, context / "debs" / p.name) for p in debs.glob("*.deb")]
    pairs += [(p, context / "wheels" / p.name) for p in (WHEELHOUSE / target).iterdir()]
    pairs += [(p, context / "project" / p.name) for p in (WHEELHOUSE / "project").iterdir()]
    for source, destination in pairs:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)
    return context


def list_images() -> list[str]:
    from harness.machine.docker_client import docker_client

    client = docker_client()
    lines = []
    for image in client.images.list(name="harness"):
        labels = image.labels or {}
        for tag in image.tags:
            lines.append(
                f"{tag}  {image.short_id}  target={labels.get('org.harness.target')} "
                f"base={labels.get('org.harness.base')}"
            )
    return lines
