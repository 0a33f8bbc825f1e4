"""The installers' own files agree with the app: version, image types, icons, scripts named.

The long checks (build, install each package, self-test, wine) are installers/test-installers.sh;
the two tool checks here take seconds and are skipped where the Debian tool is not installed.
"""

from __future__ import annotations

import configparser
import mimetypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.engine_access import IMAGE_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
DESKTOP = ROOT / "installers" / "linux" / "finescale.desktop"
NSI = ROOT / "installers" / "windows" / "finescale.nsi"


def project_version() -> str:
    return re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]


def test_desktop_file_offers_exactly_the_image_types_the_app_opens():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP)
    mime = set(filter(None, entry["Desktop Entry"]["MimeType"].split(";")))
    assert mime == {mimetypes.guess_type(f"x{suffix}")[0] for suffix in IMAGE_SUFFIXES}
    assert entry["Desktop Entry"]["Icon"] == "finescale"


def test_nsis_script_matches_version_image_types_and_icon():
    text = NSI.read_text()
    assert re.search(r'!define VERSION "(.+)"', text)[1] == project_version()
    assert set(re.findall(r'!insertmacro OPEN_WITH "(\.\w+)"', text)) == set(IMAGE_SUFFIXES)
    assert set(re.findall(r'!insertmacro CLOSE_WITH "(\.\w+)"', text)) == set(IMAGE_SUFFIXES)
    assert (ROOT / "resources" / "icons" / "finescale.ico").is_file()


def test_icons_cover_the_hicolor_sizes():
    sizes = sorted(
        int(p.parent.parent.name.split("x")[0])
        for p in ROOT.glob("resources/icons/hicolor/*/apps/finescale.png")
    )
    assert sizes == [16, 24, 32, 48, 64, 128, 256, 512]


def test_release_workflow_runs_scripts_that_exist():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    runs = "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]
    )
    scripts = set(re.findall(r"installers/[\w/.-]+\.(?:sh|nsi|spec)", runs))
    assert len(scripts) >= 6 and all((ROOT / s).is_file() for s in scripts), scripts


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {name.replace('makensis', 'nsis')})")
    return path


@pytest.mark.slow  # ~5 s
def test_nsis_script_compiles_with_no_arguments(tmp_path):
    done = subprocess.run(
        [tool("makensis"), "-V2", f"-DOUTDIR={tmp_path}", str(NSI)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / f"finescale-{project_version()}-windows-x64-setup.exe").stat().st_size > 1e5


def test_desktop_file_validates():
    done = subprocess.run(
        [tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
