"""Which system libraries Qt's xcb platform plugin lacks, as Debian package names.

Qt reports a missing library only as "could not load the Qt platform plugin xcb" and names one
candidate at most, so ``run.sh`` asks ``ldd`` before starting the window. Stdout gets the
package names (space-separated, nothing when all is well); stderr says what is missing.

    python scripts/qt_libs.py                  # checks the installed PySide6
    python scripts/qt_libs.py --ldd-output F   # checks a saved ``ldd`` listing (tests)

Exit status: 0 nothing missing (or nothing to check), 3 libraries missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

MISSING_STATUS = 3
PLUGIN = Path("Qt/plugins/platforms/libqxcb.so")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")
_SONAME = re.compile(r"^(?P<name>lib[\w.+-]+?)\.so\.(?P<version>[\d.]+)$")

# Where Debian's name differs from its library-packaging rule (see ``debian_package``).
_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLdispatch.so.0": "libglvnd0",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
}


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` could not resolve, each once, in the order listed."""
    found = [m[1] for m in map(_NOT_FOUND.match, ldd_output.splitlines()) if m]
    return list(dict.fromkeys(found))


def debian_package(soname: str) -> str:
    """``libxcb-icccm.so.4`` -> ``libxcb-icccm4``: Debian names a shared-library package after
    its soname, lower-cased, with a hyphen before the version when the name ends in a digit
    (``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``)."""
    if soname in _EXCEPTIONS:
        return _EXCEPTIONS[soname]
    match = _SONAME.match(soname)
    if match is None:
        return soname
    name, version = match["name"].lower(), match["version"].split(".")[0]
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def debian_packages(sonames: list[str]) -> list[str]:
    return list(dict.fromkeys(debian_package(s) for s in sonames))


def plugin_path() -> Path | None:
    """The xcb plugin of the PySide6 this Python would import, without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / PLUGIN
    return path if path.is_file() else None


def run_ldd(path: Path) -> str | None:
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    done = subprocess.run([ldd, str(path)], capture_output=True, text=True, check=False)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ldd-output", type=Path, help="a saved ldd listing to check instead")
    args = parser.parse_args(argv)
    if args.ldd_output is not None:
        listing = args.ldd_output.read_text()
    else:
        plugin = plugin_path()
        listing = None if plugin is None else run_ldd(plugin)
        if listing is None:
            return 0  # no xcb plugin or no ldd here: nothing this check can say
    missing = missing_libraries(listing)
    if not missing:
        return 0
    packages = debian_packages(missing)
    print(
        "Qt's X11 (xcb) plugin cannot start: missing " + ", ".join(missing) + ".",
        file=sys.stderr,
    )
    print(" ".join(packages))
    return MISSING_STATUS


if __name__ == "__main__":
    sys.exit(main())
