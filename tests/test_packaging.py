"""packaging/: the desktop metadata and icons agree with pyproject (the one place for the
name, version and icon), and are well-formed. `make package` also runs
desktop-file-validate and appstreamcli on them where those tools are installed."""

from __future__ import annotations

import configparser
import importlib.util
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

import studio

ROOT = Path(__file__).resolve().parents[1]


def appmeta():
    spec = importlib.util.spec_from_file_location("appmeta", ROOT / "packaging" / "appmeta.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["appmeta"] = module
    spec.loader.exec_module(module)
    return module


def test_name_version_and_id_come_from_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = appmeta().read_meta()
    assert meta.version == pyproject["project"]["version"] == studio.__version__
    assert meta.name == studio.APP_NAME == "Latent Studio"
    assert meta.app_id == studio.APP_ID == pyproject["tool"]["latent-studio"]["app-id"]
    assert meta.icon_svg.is_file() and meta.icon_svg.suffix == ".svg"


def test_the_committed_files_are_up_to_date():
    # regenerate with `python packaging/appmeta.py` after changing pyproject
    assert appmeta().main(["--check"]) == 0


def test_the_desktop_entry_is_well_formed():
    meta = appmeta().read_meta()
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "packaging" / "linux" / f"{meta.app_id}.desktop")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == meta.name
    assert entry["Exec"].split()[0] == meta.executable
    assert entry["Icon"] == meta.app_id and entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "Graphics" in entry["Categories"].split(";")


def test_the_metainfo_is_well_formed():
    meta = appmeta().read_meta()
    root = ET.parse(ROOT / "packaging" / "linux" / f"{meta.app_id}.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == meta.app_id and root.findtext("name") == meta.name
    assert root.findtext("metadata_license") and root.findtext("project_license") == meta.license
    assert root.find("launchable").text == f"{meta.app_id}.desktop"
    assert root.find("releases/release").get("version") == meta.version
    assert "offline" in ET.tostring(root.find("description"), encoding="unicode")


def test_png_icons_at_every_standard_size_match_the_svg(qapp, tmp_path):
    module = appmeta()
    meta = module.read_meta()
    for size in module.ICON_SIZES:
        image = Image.open(module.png_path(meta, size))
        assert image.size == (size, size) and image.mode == "RGBA"
    # the committed PNGs are renderings of today's SVG
    module.render_png(meta.icon_svg, 48, tmp_path / "48.png")
    fresh = np.asarray(Image.open(tmp_path / "48.png"), dtype=np.int16)
    committed = np.asarray(Image.open(module.png_path(meta, 48)), dtype=np.int16)
    assert np.abs(fresh - committed).mean() < 2.0


def test_windows_and_macos_icons_hold_their_sizes():
    module = appmeta()
    icons = ROOT / "packaging" / "icons"
    ico = Image.open(icons / "latent-studio.ico")
    assert {(s, s) for s in module.ICO_SIZES} <= set(ico.info["sizes"])
    icns = Image.open(icons / "latent-studio.icns")
    assert {(512, 512, 2), (512, 512, 1), (256, 256, 1), (128, 128, 1)} <= set(icns.info["sizes"])
    assert "version_info.txt" in {p.name for p in (ROOT / "packaging" / "windows").iterdir()}
    plist = module.macos_info_plist(module.read_meta())
    assert plist["CFBundleShortVersionString"] == studio.__version__


def test_the_bundle_leaves_out_ray():
    # `studio batch`'s optional extra is installed by `make test` but is no part of the
    # desktop bundle: the freezer must not follow studio.batch's import of it
    import ast

    spec = ast.parse((ROOT / "packaging" / "latent-studio.spec").read_text())
    excludes = next(ast.literal_eval(node.value) for node in ast.walk(spec)
                    if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "excludes" for t in node.targets))
    assert "ray" in excludes
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(d.startswith("ray") for d in pyproject["project"]["optional-dependencies"]["distributed"])
    assert not any(d.startswith("ray") for d in pyproject["project"]["dependencies"])


def test_the_bundle_leaves_out_pyav_and_its_gpl_x264():
    """PyAV's wheels' libavcodec needs x264/x265 (GPL) at load time, so the MIT bundle
    excludes PyAV (tests/core/test_video.py checks the writers without it)."""
    import ast

    spec = ast.parse((ROOT / "packaging" / "latent-studio.spec").read_text())
    excludes = next(ast.literal_eval(node.value) for node in ast.walk(spec)
                    if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "excludes" for t in node.targets))
    assert "av" in excludes
