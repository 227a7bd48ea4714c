"""Image size: what the container image adds above its base image.

Builds the Dockerfile exactly as tests/integration/test_container.py does (buildah, the
locally made Debian bookworm base with python3, python3-venv and binutils, the host's
wheelhouse), then sums the layers the base lacks: uncompressed as stored, and
gzip-compressed as a registry stores and a node pulls them. Needs root, buildah and
debootstrap (./dev test installs them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.report import machine, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the container test's build helpers
from support import container as ctr  # noqa: E402

AIM_MB = 60
MB = 1e6


def measure() -> tuple[int, int, str]:
    """(uncompressed, gzip) bytes the image adds above its base, and the base's python3
    version; the image is removed."""
    base = ctr.base_image()
    python = ".".join(map(str, ctr.python_version(base)))
    with tempfile.TemporaryDirectory() as tmp:
        image = ctr.build_image(ctr.build_context(Path(tmp) / "context"), base=base)
    try:
        return ctr.added_bytes(image, base), ctr.added_bytes_gzip(image, base), python
    finally:
        ctr.remove_image(image)


def render(added: int, gzipped: int, python: str, argv: Sequence[str]) -> str:
    where = machine()
    verdict = "Met" if added < AIM_MB * MB else "Missed"
    command = " ".join([".venv/bin/python -m bench image", *argv])
    return "\n\n".join(
        [
            "## Container image size (what it adds above its base)",
            "**Figure.** The size of the layers the image adds on top of its `BASE_IMAGE`: "
            "the runtime stage's venv (the package and its runtime dependencies, shared "
            "objects stripped, bytecode compiled), the user, and the default config.",
            f"**Aim.** Under {AIM_MB} MB uncompressed.",
            "**Setup.** `buildah bud --isolation chroot --format docker` of the top-level "
            "Dockerfile on a local Debian bookworm base (debootstrap minbase + python3 "
            f"{python}, python3-venv, binutils), from the host's wheelhouse (the air-gapped "
            "path). Sizes are the added layers' tar sizes in containers-storage "
            "(uncompressed) and after `buildah push` to an OCI layout (gzip). "
            f"{where['date']}, {where['cpu']}.",
            f"**Measured.** {added / MB:.1f} MB uncompressed, "
            f"{gzipped / MB:.1f} MB gzip-compressed.",
            f"**Verdict.** {verdict}. Without `strip` in the build stage (an air-gapped build "
            "on a base without binutils) the shared objects keep their debug info and the "
            "image adds about 30 MB more.",
            f"Command: `{command}`",
        ]
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench image", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(argv)
    added, gzipped, python = measure()
    body = render(added, gzipped, python, argv)
    print(body)
    if args.write:
        write_section("image", body)
    return 0 if added < AIM_MB * MB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
