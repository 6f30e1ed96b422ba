#!/usr/bin/env bash
# Make a Debian base image with no registry at all: debootstrap a minimal bookworm with Python,
# its venv module and a C/C++ toolchain with Python's headers (torch.compile: inductor compiles
# C++ on the CPU, Triton compiles a C launcher on the GPU), then `docker import` it. For air-gapped sites (and machines whose engine
# cannot pull). Needs root, debootstrap and a Debian mirror (or a local mirror via MIRROR=...).
#   bash docker/bootstrap-base.sh [NAME]      default NAME: harness-base:bookworm
set -euo pipefail
name=${1:-harness-base:bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$name" >/dev/null 2>&1; then
  # one made before the base carried the compiler is made again
  if docker run --rm --network none --entrypoint sh "$name" -c \
      'command -v gcc && command -v g++ && test -f /usr/include/python3.11/Python.h' >/dev/null 2>&1; then
    echo "base image $name is present"
    exit 0
  fi
  echo "base image $name has no C/C++ compiler or Python.h: making it again"
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 2; }
root=$(mktemp -d /tmp/harness-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "bootstrapping Debian bookworm (minbase, python3, gcc, g++, python3-dev) into $root ..."
# debootstrap resolves Depends, not Recommends: libc6-dev (gcc only recommends it) is named.
packages=python3,python3-venv,ca-certificates,gcc,g++,libc6-dev,python3-dev
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
echo "base image $name is ready"
