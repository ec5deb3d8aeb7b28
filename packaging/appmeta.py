"""Desktop metadata and icons, made from one place: pyproject.toml and the one SVG icon.

    python packaging/appmeta.py            # (re)write the committed files below
    python packaging/appmeta.py --check    # exit 1 if any of them is out of date

It writes, beside this file:
    linux/APP_ID.desktop           the menu entry (desktop-file-validate clean)
    linux/APP_ID.metainfo.xml      AppStream metainfo (appstreamcli validate clean)
    icons/png/APP_ID-N.png         the icon at 16 … 512 px, rendered with Qt's QSvgRenderer
    icons/latent-studio.ico        Windows (16 … 256 px)
    icons/latent-studio.icns       macOS (16@2x … 512@2x)
    windows/version_info.txt       the Windows version resource PyInstaller embeds

Name and version come from [project]; the app id and the icon from [tool.latent-studio].
The PyInstaller spec imports this file for the same values. Not a package on purpose:
`packaging` is also the name of a library pip and setuptools import.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# the date of the release entry in the metainfo: bump it with the version
RELEASE_DATE = "2026-11-25"


@dataclass(frozen=True)
class AppMeta:
    distribution: str  # "latent-studio"
    name: str  # "Latent Studio"
    version: str
    summary: str
    license: str
    app_id: str  # reverse-DNS: the .desktop file, the metainfo and the macOS bundle id
    icon_svg: Path

    @property
    def executable(self) -> str:
        return self.distribution

    @property
    def version_tuple(self) -> tuple[int, int, int, int]:
        parts = [int(p) for p in self.version.split("+")[0].split(".") if p.isdigit()]
        return tuple((parts + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def read_meta(pyproject: Path = ROOT / "pyproject.toml") -> AppMeta:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project, tool = data["project"], data["tool"]["latent-studio"]
    license_ = project.get("license", {})
    return AppMeta(
        distribution=project["name"],
        name=project["name"].replace("-", " ").title(),  # as studio.APP_NAME does
        version=project["version"],
        summary=project["description"],
        license=license_.get("text", "") if isinstance(license_, dict) else str(license_),
        app_id=tool["app-id"],
        icon_svg=ROOT / tool["icon"],
    )


# -- text files ----------------------------------------------------------------------------
def desktop_entry(meta: AppMeta) -> str:
    # Comment: one short line, as menus show it; Keywords help a launcher's search
    return f"""[Desktop Entry]
Type=Application
Name={meta.name}
GenericName=Generative Image Studio
Comment=Explore generative image models: GANs, VAEs, flows and diffusion, offline
Exec={meta.executable} %F
Icon={meta.app_id}
Terminal=false
Categories=Graphics;2DGraphics;RasterGraphics;
Keywords=GAN;VAE;diffusion;latent;generative;neural;
MimeType=image/png;
StartupNotify=true
StartupWMClass={meta.name}
"""


def metainfo(meta: AppMeta) -> str:
    summary = "Explore generative image models on your own computer"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>{meta.app_id}</id>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>{meta.license}</project_license>
  <name>{meta.name}</name>
  <summary>{summary}</summary>
  <description>
    <p>
      {meta.name} is a desktop studio for generative image models. Sample, encode,
      interpolate, traverse and map the latent spaces of VAEs, steer GANs with truncation,
      directions, walks and style mixing, and compare the families side by side.
    </p>
    <p>
      Everything runs locally and offline, on the GPU when there is one and otherwise on
      the CPU. Built-in models are trained by the project itself, and every exported PNG
      carries its full recipe, so any image can be made again.
    </p>
  </description>
  <launchable type="desktop-id">{meta.app_id}.desktop</launchable>
  <provides>
    <binary>{meta.executable}</binary>
  </provides>
  <categories>
    <category>Graphics</category>
    <category>Science</category>
  </categories>
  <content_rating type="oars-1.1"/>
  <releases>
    <release version="{meta.version}" date="{RELEASE_DATE}"/>
  </releases>
</component>
"""


def windows_version_info(meta: AppMeta) -> str:
    """PyInstaller's `version=` file: the Properties > Details tab of the .exe."""
    v = meta.version_tuple
    strings = {
        "CompanyName": meta.name, "FileDescription": meta.name, "FileVersion": meta.version,
        "InternalName": meta.executable, "OriginalFilename": f"{meta.executable}.exe",
        "ProductName": meta.name, "ProductVersion": meta.version,
        "LegalCopyright": f"{meta.license} licence",
    }
    entries = ",\n".join(f"            StringStruct({k!r}, {val!r})" for k, val in strings.items())
    return f"""# UTF-8. Generated by packaging/appmeta.py from pyproject.toml: edit that, not this.
VSVersionInfo(
  ffi=FixedFileInfo(filevers={v}, prodvers={v}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{entries}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def macos_info_plist(meta: AppMeta) -> dict[str, object]:
    """Info.plist keys for PyInstaller's BUNDLE on macOS."""
    return {
        "CFBundleName": meta.name,
        "CFBundleDisplayName": meta.name,
        "CFBundleShortVersionString": meta.version,
        "CFBundleVersion": meta.version,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark mode
        "LSApplicationCategoryType": "public.app-category.graphics-design",
        "NSHumanReadableCopyright": f"{meta.license} licence",
    }


# -- icons -----------------------------------------------------------------------------------
def render_png(svg: Path, size: int, out: Path) -> None:
    """The SVG at size × size, with Qt's SVG renderer (no display needed)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _ = QGuiApplication.instance() or QGuiApplication(["appmeta", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out}: could not write")


def png_path(meta: AppMeta, size: int, folder: Path = HERE / "icons" / "png") -> Path:
    return folder / f"{meta.app_id}-{size}.png"


def write_icons(meta: AppMeta, folder: Path = HERE / "icons") -> list[Path]:
    from PIL import Image

    pngs = {size: png_path(meta, size, folder / "png") for size in ICON_SIZES}
    for size, path in pngs.items():
        render_png(meta.icon_svg, size, path)
    # Pillow resamples each ICO/ICNS size from the largest image it is given, so hand it
    # the 512 px rendering; the small PNGs above are Qt's own rendering at that size
    big = Image.open(pngs[512]).convert("RGBA")
    ico = folder / f"{meta.distribution}.ico"
    big.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    icns = folder / f"{meta.distribution}.icns"
    big.save(icns, format="ICNS")  # Pillow writes macOS's set: 16@2x … 512@2x
    return [*pngs.values(), ico, icns]


def text_files(meta: AppMeta) -> dict[Path, str]:
    return {
        HERE / "linux" / f"{meta.app_id}.desktop": desktop_entry(meta),
        HERE / "linux" / f"{meta.app_id}.metainfo.xml": metainfo(meta),
        HERE / "windows" / "version_info.txt": windows_version_info(meta),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a generated text file differs from pyproject's values")
    parser.add_argument("--no-icons", action="store_true", help="only the text files")
    args = parser.parse_args(argv)
    meta = read_meta()
    stale = []
    for path, text in text_files(meta).items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    if args.check:
        missing = [png_path(meta, s) for s in ICON_SIZES if not png_path(meta, s).is_file()]
        for path in stale + missing:
            print(f"out of date: {path.relative_to(ROOT)} (run python packaging/appmeta.py)",
                  file=sys.stderr)
        return 1 if stale or missing else 0
    if not args.no_icons:
        for path in write_icons(meta):
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
