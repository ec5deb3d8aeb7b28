#!/bin/sh
# Install the bundle built by `make package` for the current user (or PREFIX):
# the app under PREFIX/lib/latent-studio, `latent-studio` on PATH, the menu entry,
# the icons and the AppStream metainfo. Uninstall: run with --uninstall.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PREFIX=${PREFIX:-$HOME/.local}
APP_ID=org.latentstudio.LatentStudio
BUNDLE=$ROOT/dist/latent-studio

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$PREFIX/lib/latent-studio" "$PREFIX/bin/latent-studio" \
        "$PREFIX/share/applications/$APP_ID.desktop" "$PREFIX/share/metainfo/$APP_ID.metainfo.xml"
    find "$PREFIX/share/icons/hicolor" -name "$APP_ID.*" -delete 2>/dev/null || true
    echo "removed Latent Studio from $PREFIX"
    exit 0
fi
[ -x "$BUNDLE/latent-studio" ] || { echo "no bundle in $BUNDLE: run make package first" >&2; exit 1; }
mkdir -p "$PREFIX/lib" "$PREFIX/bin"
rm -rf "$PREFIX/lib/latent-studio"
cp -a "$BUNDLE" "$PREFIX/lib/latent-studio"
ln -sf "$PREFIX/lib/latent-studio/latent-studio" "$PREFIX/bin/latent-studio"
install -Dm644 "$HERE/linux/$APP_ID.desktop" "$PREFIX/share/applications/$APP_ID.desktop"
install -Dm644 "$HERE/linux/$APP_ID.metainfo.xml" "$PREFIX/share/metainfo/$APP_ID.metainfo.xml"
for png in "$HERE"/icons/png/$APP_ID-*.png; do
    size=${png##*-}; size=${size%.png}
    install -Dm644 "$png" "$PREFIX/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
install -Dm644 "$ROOT/resources/icons/latent-studio.svg" \
    "$PREFIX/share/icons/hicolor/scalable/apps/$APP_ID.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$PREFIX/share/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$PREFIX/share/icons/hicolor" || true
echo "installed Latent Studio in $PREFIX (make sure $PREFIX/bin is on PATH)"
