"""The container image built and run with buildah alone: no registry, no daemon.

No image registry is reachable here, so the base image is made locally:
`debootstrap --variant=minbase bookworm` plus python3 and python3-venv (Debian's 3.11, the
ABI of the host's wheels) and binutils, whose `strip` the Dockerfile's build stage uses
(against an official image it installs binutils there itself). The rootfs tarball is
cached per machine and recipe, renewed monthly for security updates, and imported as
`localhost/consistency-monitor-test-base:<key>`, which stays in the store.

The image is built from a copy of the work tree plus a wheelhouse made on the host with
`pip wheel` (the Dockerfile's air-gapped path), with `buildah bud --isolation chroot
--format docker` (the OCI format drops HEALTHCHECK), and run with `buildah run
--isolation chroot`, which shares the host's network: the host reaches 127.0.0.1.
Used by tests/integration/test_container.py and bench/image_size.py; no pytest here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "CONSISTENCY_MONITOR_TEST_CACHE"
CACHE = Path(os.environ.get(CACHE_ENV, "/var/cache/consistency-monitor-test"))
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "binutils")
TRIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")
BASE_REPO = "localhost/consistency-monitor-test-base"
IMAGE_REPO = "localhost/consistency-monitor-test"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Not copied into the build context: large, or made by the build itself.
CONTEXT_IGNORE = (
    *(".git", ".venv", "*_cache", "__pycache__", "test-artifacts", "wheels"),
    *("build", "dist", "*.egg-info", "node_modules"),
)
SERVING = re.compile(r"serving on (\S+:\d+) \(")  # the daemon's line naming its address


class ContainerError(Exception):
    """A buildah or debootstrap step failed; the message carries its output."""


def run(argv: Sequence[str | Path], *, timeout: float = 600) -> str:
    """Run a command to completion; its stdout, or ContainerError with all its output."""
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        command = " ".join(str(a) for a in argv)
        raise ContainerError(f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


# -- the base image ----------------------------------------------------------------------


def base_key(today: dt.date | None = None) -> str:
    """The recipe's hash and the month: a new recipe or a new month makes a new base."""
    recipe = json.dumps([SUITE, MIRROR, PACKAGES, TRIM, PATH_ENV])
    month = (today or dt.date.today()).strftime("%Y%m")
    return f"{hashlib.sha256(recipe.encode()).hexdigest()[:12]}-{month}"


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """One test run at a time makes the base; the others wait and reuse it."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _debootstrap(target: Path) -> None:
    packages = ",".join(PACKAGES)
    run(["debootstrap", "--variant=minbase", f"--include={packages}", SUITE, target, MIRROR])
    for path in TRIM:
        for child in (target / path).glob("*"):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def rootfs_tarball(cache: Path = CACHE) -> Path:
    """The cached base rootfs tarball, made (about a minute) when missing or stale."""
    tarball = cache / f"rootfs-{base_key()}.tar"
    if tarball.exists():
        return tarball
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        _debootstrap(Path(tmp) / "rootfs")
        partial = Path(tmp) / "rootfs.tar"
        run(["tar", "--numeric-owner", "--xattrs", "-C", Path(tmp) / "rootfs", "-cf", partial, "."])
        partial.rename(tarball)
    for stale in cache.glob("rootfs-*.tar"):
        if stale != tarball:
            stale.unlink()
    return tarball


def image_exists(name: str) -> bool:
    probe = ["buildah", "inspect", "--type", "image", name]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def _import_rootfs(tarball: Path, name: str) -> None:
    container = run(["buildah", "from", "scratch"]).strip()
    try:
        run(["buildah", "add", "--quiet", container, tarball, "/"])
        run(["buildah", "config", "--env", PATH_ENV, "--cmd", "/bin/sh", container])
        run(["buildah", "commit", "--quiet", container, name])
    finally:
        run(["buildah", "rm", container])


def _remove_stale_bases(keep: str) -> None:
    for image in json.loads(run(["buildah", "images", "--json"]) or "[]"):
        names = image.get("names") or []
        if keep not in names and any(n.startswith(f"{BASE_REPO}:") for n in names):
            run(["buildah", "rmi", "--force", image["id"]])


def base_image(cache: Path = CACHE) -> str:
    """`localhost/consistency-monitor-test-base:<key>`, imported from the cache if missing."""
    name = f"{BASE_REPO}:{base_key()}"
    with _cache_lock(cache):
        if not image_exists(name):
            _import_rootfs(rootfs_tarball(cache), name)
            _remove_stale_bases(keep=name)
    return name


# -- containers ----------------------------------------------------------------------------


@contextlib.contextmanager
def container(image: str) -> Iterator[str]:
    """A working container from `image`, removed afterwards (with its volumes)."""
    name = f"consistency-monitor-test-{uuid.uuid4().hex[:12]}"
    run(["buildah", "from", "--pull=never", "--quiet", "--name", name, image])
    try:
        yield name
    finally:
        run(["buildah", "rm", name])


def run_argv(name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """`buildah run` of argv in container `name`, as the image's user, on the host network."""
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    buildah_run = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
    return [*buildah_run, *flags, name, "--", *argv]


def run_in(name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """Run argv in the container to completion; its stdout."""
    return run(run_argv(name, argv, env), timeout=120)


def python_version(image: str) -> tuple[int, int]:
    """The major and minor version of the image's python3."""
    with container(image) as name:
        out = run_in(name, ["python3", "-c", "import sys; print(*sys.version_info[:2])"])
    major, minor = out.split()
    return int(major), int(minor)


# -- the image -----------------------------------------------------------------------------


def build_context(dest: Path, root: Path = ROOT) -> Path:
    """A copy of the work tree with a wheelhouse `wheels/` built by the host's pip:
    the project, its runtime dependencies and what its build backend needs."""
    shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns(*CONTEXT_IGNORE))
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    run([*pip, "--wheel-dir", dest / "wheels", dest, "setuptools>=68", "wheel"])
    return dest


def build_image(context: Path, *, base: str, build_args: Mapping[str, str] | None = None) -> str:
    """Build the Dockerfile in `context` on `base`; the new image's name."""
    name = f"{IMAGE_REPO}:{uuid.uuid4().hex[:12]}"
    arguments = {"BASE_IMAGE": base, **(build_args or {})}
    args = [f"--build-arg={k}={v}" for k, v in arguments.items()]
    bud = ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--pull=never"]
    run([*bud, "--quiet", *args, "--tag", name, context], timeout=900)
    return name


def remove_image(name: str) -> None:
    run(["buildah", "rmi", "--force", name])


def inspect_image(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(run(["buildah", "inspect", "--type", "image", name]))
    return found


def image_config(name: str) -> dict[str, Any]:
    """The Docker-format config: Entrypoint, Cmd, User, Env, Healthcheck, Labels, ..."""
    config: dict[str, Any] = inspect_image(name)["Docker"]["config"]
    return config


def layers(name: str) -> dict[str, int]:
    """Each layer's diff id → its uncompressed size in bytes, as stored."""
    found = inspect_image(name)
    sizes = [layer["size"] for layer in json.loads(found["Manifest"])["layers"]]
    return dict(zip(found["Docker"]["rootfs"]["diff_ids"], sizes, strict=True))


def added_bytes(image: str, base: str) -> int:
    """What `image` adds above `base`: the uncompressed size of the layers base lacks."""
    below = layers(base)
    return sum(size for diff, size in layers(image).items() if diff not in below)


def added_bytes_gzip(image: str, base: str) -> int:
    """The same as a registry stores it: the added layers gzip-compressed."""
    with tempfile.TemporaryDirectory() as tmp:
        run(["buildah", "push", "--quiet", image, f"oci:{tmp}:image"])
        index = json.loads((Path(tmp) / "index.json").read_text())
        manifest = _blob(Path(tmp), index["manifests"][0]["digest"])
    count = len(set(layers(image)) - set(layers(base)))
    return sum(layer["size"] for layer in manifest["layers"][-count:]) if count else 0


def _blob(layout: Path, digest: str) -> Any:
    algorithm, _, value = digest.partition(":")
    return json.loads((layout / "blobs" / algorithm / value).read_text())


# -- the daemon in a container ---------------------------------------------------------------


@dataclass
class Daemon:
    """`consistency-monitor run` inside a container, started in the background."""

    process: subprocess.Popen[bytes]
    log: Path

    def address(self) -> str | None:
        """`host:port` once the daemon has said it is serving."""
        found = SERVING.search(self.log.read_text(errors="replace"))
        return found.group(1) if found else None

    def pid(self) -> int | None:
        """The daemon's own process (a descendant of `buildah run`), once it exists."""
        return next(iter(descendants(self.process.pid, "consistency-monitor")), None)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the daemon itself (buildah would SIGKILL it); buildah's exit status."""
        pid = self.pid()
        if self.process.poll() is None:
            os.kill(pid or self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_daemon(name: str, argv: Sequence[str], log: Path) -> Daemon:
    """Start argv (the image's entrypoint and arguments) in container `name`."""
    with log.open("wb") as out:
        process = subprocess.Popen(run_argv(name, argv), stdout=out, stderr=subprocess.STDOUT)
    return Daemon(process, log)


def descendants(root: int, needle: str) -> list[int]:
    """Processes below `root` whose command line contains `needle`, parents first;
    buildah's own helpers (`buildah-chroot-exec ARGV...`) left out."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop(0)
        queue.extend(children.get(pid, []))
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if "buildah" not in argv[0] and any(needle in arg for arg in argv):
                found.append(pid)
    return found


def proc_ids(pid: int) -> dict[str, list[int]]:
    """The real, effective, saved and filesystem UIDs and GIDs of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rows = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: [int(v) for v in rows[key].split()] for key in ("Uid", "Gid")}


def written_outside_volumes(name: str) -> list[str]:
    """Paths the container wrote to its own layer (overlay's upper dir), volumes excluded:
    what a read-only root filesystem would have refused."""
    merged = Path(run(["buildah", "mount", name]).strip())
    try:
        upper = merged.parent / "diff"
        if not upper.is_dir():
            raise ContainerError(f"{upper}: no overlay upper dir (storage driver not overlay?)")
        return sorted(str(p.relative_to(upper)) for p in upper.rglob("*"))
    finally:
        run(["buildah", "umount", name])
