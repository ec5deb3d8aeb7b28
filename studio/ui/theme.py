"""Fusion with a dark (default) or light palette, plus a few accents."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#3d8fd6"

_DARK = {
    QPalette.ColorRole.Window: "#2b2c30",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1f2023",
    QPalette.ColorRole.AlternateBase: "#26272b",
    QPalette.ColorRole.ToolTipBase: "#1f2023",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#8a8a8a",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#35363b",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#45464c",
    QPalette.ColorRole.Midlight: "#3a3b40",
    QPalette.ColorRole.Mid: "#2f3034",
    QPalette.ColorRole.Dark: "#1a1b1e",
    QPalette.ColorRole.Shadow: "#111214",
    QPalette.ColorRole.Highlight: ACCENT,
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6cb4ff",
}
_DARK_DISABLED = {
    QPalette.ColorRole.WindowText: "#7a7a7a",
    QPalette.ColorRole.Text: "#7a7a7a",
    QPalette.ColorRole.ButtonText: "#7a7a7a",
    QPalette.ColorRole.Highlight: "#4a4b50",
}

# Accents the palette cannot express: the primary button, section headers, the message bar.
_STYLE = """
QPushButton#primary { background: %(accent)s; color: white; border: none; border-radius: 5px;
    padding: 9px 14px; font-weight: 600; font-size: 11pt; }
QPushButton#primary:hover { background: #4c9ce0; }
QPushButton#primary:disabled { background: %(disabled)s; color: #9a9a9a; }
QToolButton#section { border: none; font-weight: 600; padding: 4px 2px; }
QToolButton#segment:checked { background: %(accent)s; color: white; border: 1px solid %(accent)s;
    border-radius: 3px; }
QFrame#messageBar[level="error"] { background: #5a2a2c; border: 1px solid #8c3b3f; border-radius: 4px; }
QFrame#messageBar[level="info"] { background: #24405c; border: 1px solid #35618b; border-radius: 4px; }
QFrame#messageBar QLabel { color: #f2f2f2; }
QLabel#caption { color: %(muted)s; }
QLabel#changedMark { color: #e0a040; font-weight: 600; }
QLabel#endpoint { border: 1px dashed %(muted)s; border-radius: 4px; }
QDockWidget::title { padding: 5px 6px; }
"""


def apply_theme(app: QApplication, theme: str = "dark") -> None:
    app.setStyle("Fusion")
    if theme == "light":
        palette = app.style().standardPalette()
        muted, disabled = "#666666", "#b8b8b8"
    else:
        palette = QPalette()
        for role, color in _DARK.items():
            palette.setColor(role, QColor(color))
        for role, color in _DARK_DISABLED.items():
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
        muted, disabled = "#9a9a9a", "#45464c"
    app.setPalette(palette)
    app.setStyleSheet(_STYLE % {"accent": ACCENT, "muted": muted, "disabled": disabled})
