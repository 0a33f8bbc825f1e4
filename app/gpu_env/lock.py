"""Lock files: the exact wheels (URL, sha256, size) of one CUDA build for one platform.

They are made online, once per release, from pip's own resolver (``pip install --dry-run
--report``) so nothing is resolved on the user's machine, and they ship inside the bundle in
``resources/gpu/<build>-<platform>.json``. Packages the bundle already carries for the same torch
version (sympy, networkx, ...) are left out: the managed folder holds torch and the CUDA runtime
only, so it never shadows anything else the app imports.

``python -m app.gpu_env.lock --report R.json --build cu126 --platform linux-x86_64 -o FILE``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from app.gpu_env import GpuEnvError

BUNDLED = frozenset(  # torch's pure-Python dependencies, frozen into the app with CPU torch
    {"filelock", "fsspec", "jinja2", "markupsafe", "mpmath", "networkx", "sympy", "setuptools"}
    | {"typing-extensions", "numpy"}
)


@dataclass(frozen=True)
class Wheel:
    filename: str
    url: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class Lock:
    build: str
    torch: str  # the version the probe must report, e.g. "2.13.0+cu126"
    platform: str
    wheels: tuple[Wheel, ...]

    @property
    def total_bytes(self) -> int:
        return sum(w.size or 0 for w in self.wheels)


def lock_path(folder: Path, build: str, platform: str) -> Path:
    return folder / f"{build}-{platform}.json"


def read_lock(path: Path) -> Lock:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        wheels = tuple(Wheel(**w) for w in data["wheels"])
        return Lock(data["build"], data["torch"], data["platform"], wheels)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GpuEnvError(f"The GPU package list {path} is unreadable ({exc}).") from exc


def write_lock(lock: Lock, path: Path) -> None:
    data = asdict(lock)
    data["wheels"] = [asdict(w) for w in lock.wheels]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _remote_size(url: str) -> int | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path)).stat().st_size
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=60) as response:
        length = response.headers.get("Content-Length")
    return int(length) if length else None


def _sha256(url: str, info: dict) -> str:
    hashes = info.get("archive_info", {}).get("hashes", {})
    if "sha256" in hashes:
        return hashes["sha256"]
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        raise GpuEnvError(f"The index gives no sha256 for {url}; refusing to lock it.")
    digest = hashlib.sha256()
    with open(urllib.request.url2pathname(parsed.path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_from_report(report: dict, build: str, platform: str) -> Lock:
    """Turn pip's installation report into a lock, dropping what the bundle already has."""
    wheels, torch_version = [], None
    for item in report["install"]:
        name = _canonical(item["metadata"]["name"])
        if name == "torch":
            torch_version = item["metadata"]["version"]
        if name in BUNDLED:
            continue
        url = item["download_info"]["url"]
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1].split("#")[0])
        if not filename.endswith(".whl"):
            raise GpuEnvError(f"{filename} is not a wheel; GPU builds install wheels only.")
        wheels.append(Wheel(filename, url, _sha256(url, item["download_info"]), _remote_size(url)))
    if torch_version is None:
        raise GpuEnvError("The pip report does not install torch.")
    return Lock(build, torch_version, platform, tuple(sorted(wheels, key=lambda w: w.filename)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.gpu_env.lock", description=__doc__)
    parser.add_argument("--report", required=True, type=Path, help="pip install --report output")
    parser.add_argument("--build", required=True, help="build tag, e.g. cu126")
    parser.add_argument("--platform", required=True, choices=["linux-x86_64", "win-amd64"])
    parser.add_argument("-o", "--output", required=True, type=Path)
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    lock = lock_from_report(report, args.build, args.platform)
    write_lock(lock, args.output)
    print(f"{args.output}: torch {lock.torch}, {len(lock.wheels)} wheels, {lock.total_bytes} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
