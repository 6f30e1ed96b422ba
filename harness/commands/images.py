"""harness images: build the CPU/CUDA images from an offline wheelhouse; list them."""

from __future__ import annotations

import argparse

from harness.errors import EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    images = sub.add_parser(name, help="build the CPU/CUDA images (offline wheelhouse)")
    actions = images.add_subparsers(dest="images_command", metavar="ACTION")
    for action in ("build", "wheelhouse"):
        cmd = actions.add_parser(
            action,
            help="build the image offline from the wheelhouse"
            if action == "build"
            else "collect the wheels the image installs (the only step that needs a network)",
        )
        cmd.add_argument("--target", default="cpu", help="cpu or cuda")
        if action == "build":  # the wheelhouse has no tag and no base: only the build takes them
            cmd.add_argument("--tag", default=None, help="the image's tag (default harness:TARGET)")
            cmd.add_argument("--base", default=None, help="base image (build argument)")
            cmd.add_argument(
                "--if-stale",
                action="store_true",
                help="build only when the image is missing or built from other sources",
            )
    actions.add_parser("list", help="harness images present in the engine")


def handle(args: argparse.Namespace) -> int:
    from harness.images import build_image, list_images, prepare_wheelhouse

    if args.images_command == "build":
        tag = build_image(args.target, tag=args.tag, base=args.base, if_stale=args.if_stale)
        print(f"harness: image {tag} is ready")
        return EXIT_OK
    if args.images_command == "wheelhouse":
        folder = prepare_wheelhouse(args.target)
        print(f"harness: wheelhouse ready in {folder}")
        return EXIT_OK
    if args.images_command == "list":
        for line in list_images():
            print(line)
        return EXIT_OK
    raise UserError("images needs an action: build, wheelhouse or list.")
