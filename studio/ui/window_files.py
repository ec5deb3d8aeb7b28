"""The main window's files: open and drop (a recipe restores, an image is encoded),
export (PNG with its recipe, animation, contact sheet), copy, and the file dialogs.

A mixin of MainWindow. The dialogs are separate methods, so tests can answer for the user.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from studio.core import export
from studio.core.requests import RecipeError, Request, Result
from studio.ui import images as imgs
from studio.ui.export_options import ExportOptions
from studio.ui.file_loader import OpenedFile

OPEN_FILTER = "Images and recipes (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff *.json)"


class FilesMixin:
    """Opening, dropping, restoring recipes, exporting and copying."""

    # -- files: open, drop, recipes ---------------------------------------------------------
    def open_file_dialog(self) -> None:
        path = self._ask_open_path("Open an image or a recipe")
        if path:
            self.open_files([path], "samples")

    def open_files(self, paths: list[str], target: str = "samples") -> None:
        """Dropped or opened files: a recipe restores and re-renders; an image is encoded.
        A bad file shows a message and changes nothing. The files are read on the file
        loader's thread (a big PNG takes seconds), in order; `_on_file_loader_file_read`
        takes each one on the GUI thread. A model file some family converts (a StyleGAN
        .pkl) is imported instead (Model › Import Model File…)."""
        from studio.ui import model_files

        model_paths = [str(p) for p in paths if model_files.convertible(self.registry, p)]
        for path in model_paths:
            self.import_model_file(path)
        paths = [p for p in paths if str(p) not in model_paths]
        if not paths:
            return
        if self.session.model_id is None:
            self.show_error("Pick a model first, then drop images to encode them.")
            return
        card = self.library.get(self.session.model_id).card
        self.file_loader.load([str(p) for p in paths], context=(target, self.session.model_id),
                              fit=(card.resolution, card.channels))

    def loading_files(self) -> bool:
        """Whether opened or dropped files are still being read."""
        return self.file_loader.busy()

    def _on_file_loader_file_read(self, opened: OpenedFile, context: tuple[str, str]) -> None:
        target, model_id = context
        if opened.error is not None:
            self.show_error(opened.error)
        elif opened.request is not None:
            self.restore_request(opened.request)
        elif opened.fitted is not None and self.session.model_id is not None:
            if model_id != self.session.model_id:  # fitted for another model: read it again
                self.open_files([opened.path], target)
                return
            if opened.note:
                self.show_info(opened.note)
            fitted = opened.fitted
            # the first two images dropped on a canvas become A and B
            index = opened.index
            first_two = ("a", "b")[index] if index < 2 else ""
            pick = first_two if target == "samples" else ""
            endpoint = first_two if target == "ab" else target if target in ("a", "b") else ""
            self._encode_image(fitted, opened.path, pick, endpoint)

    def _encode_image(self, fitted: np.ndarray, path: str, pick: str, endpoint: str) -> None:
        card = self.library.get(self.session.model_id).card
        if self.session.offer_image(fitted, path):
            return  # a view took it (the GAN explorer projects it)
        if "encode" not in self.registry.get(self.session.family).op_names:
            self.show_error(f"{card.name} cannot take an image: a "
                            f"{self.registry.get(self.session.family).label} has no encoder.")
            return
        self.session.set_input("image", fitted)
        self.run_request(self.session.request("encode"), pick=pick, endpoint=endpoint)

    def restore_request(self, request: Request, render: bool = True) -> None:
        """Take model, op, parameters and seed from a recipe, and render it again."""
        if request.model_id not in self.models.model_ids():
            self.show_error(f"This recipe needs the model {request.model_id!r}, "
                            "which is not in the library. Import its folder first.")
            return
        family = self.library.get(request.model_id).card.family
        try:  # check before changing anything: a recipe may be damaged or from a newer app
            self.registry.get(family).op(request.op).validate(request.params, request.inputs)
        except (KeyError, ValueError) as exc:
            self.show_error(f"This recipe cannot be used: {str(exc).strip(chr(39))}")
            return
        self.models.select(request.model_id)
        self.select_model(request.model_id)
        # the panel and the explorer follow the session's events (the view, then the
        # values, as "restore")
        self.session.restore(request, view=self.explorer.view_of(request))
        self.explorer.set_view(self.session.view)
        self._rebuild_params()
        if render:
            self.run_request(dataclasses.replace(request, device=None), to_history=False)

    def _on_history_entry_activated(self, entry: Any) -> None:
        try:
            request = entry.request()
        except RecipeError as exc:
            self.show_error(f"History entry {entry.id}: {exc}")
            return
        self.restore_request(request)

    # -- export, copy ---------------------------------------------------------------------
    def _suggested_name(self, result: Result, suffix: str) -> str:
        return export.suggested_name(result, suffix)

    def _picked_seed(self, index: int | None) -> int | None:
        """The seed that alone draws the picked cell, where the view knows it."""
        seed_of = getattr(self.explorer.views[self.explorer.current_view()], "seed_of", None)
        return None if index is None or seed_of is None else seed_of(index)

    def _export_target(self, path: str) -> Path:
        self.settings.setValue("last_export_dir", str(Path(path).parent))
        return Path(path)

    def export_png(self) -> Path | None:
        result = self.explorer.result()
        if result is None:
            self.show_info("Nothing to export yet: Generate first.")
            return None
        picked = self.explorer.selected_index()
        options = ExportOptions(result, picked, self._picked_seed(picked),
                                scale=str(self.settings.value("export/scale", "1x")))
        path = self._ask_save_path("Export PNG", "PNG image (*.png)", options.file_name(), options)
        if not path:
            return None
        scale = options.scale()
        self.settings.setValue("export/scale", scale.label())  # the next export offers it again
        try:
            out = export.export_png(self._export_target(path), result, options.index(),
                                    family=self.session.family or "", scale=scale)
        except (OSError, ValueError) as exc:
            self.show_error(f"Export failed: {exc}")
            return None
        self.statusBar().showMessage(f"Exported {out}", 5000)
        return out

    def export_animation(self) -> Path | None:
        result = self.explorer.animation_result()
        if result is None:
            self.show_info(self.explorer.animation_hint)
            return None
        path = self._ask_save_path("Export animation", "GIF animation (*.gif);;Animated WebP (*.webp)",
                                   self._suggested_name(result, ".gif"))
        if not path:
            return None
        if Path(path).suffix.lower() not in (".gif", ".webp"):
            path += ".gif"
        try:
            out = export.export_animation(self._export_target(path), result,
                                          fps=self.explorer.animation_fps())
        except (OSError, ValueError) as exc:
            self.show_error(f"Export failed: {exc}")
            return None
        self.statusBar().showMessage(f"Exported {out}", 5000)
        return out

    def export_contact_sheet(self) -> Path | None:
        result = self.explorer.result()
        if result is None:
            self.show_info("Nothing to export yet: Generate first.")
            return None
        path = self._ask_save_path("Export contact sheet", "PNG image (*.png)",
                                   self._suggested_name(result, "-sheet.png"))
        if not path:
            return None
        try:
            out = export.export_contact_sheet(
                self._export_target(path), result.images, columns=result.columns,
                labels=list(result.labels) or None,
                # a comparison (the diffusion explorer's branches) carries one per image
                recipes=list(result.extras.get("recipes") or [export.recipe_of(result)]))
        except (OSError, ValueError) as exc:
            self.show_error(f"Export failed: {exc}")
            return None
        self.statusBar().showMessage(f"Exported {out}", 5000)
        return out

    def copy_image(self) -> None:
        image = self.explorer.current_image()
        if image is None:
            return
        QApplication.clipboard().setImage(imgs.to_qimage(image))
        self.statusBar().showMessage("Image copied", 3000)

    # -- dialogs (separate methods, so tests can answer for the user) -------------------------
    def _last_dir(self) -> str:
        return str(self.settings.value("last_export_dir", str(Path.home())))

    def _ask_save_path(self, caption: str, file_filter: str, suggested: str,
                       options: QWidget | None = None) -> str | None:
        """The save dialog; `options` (what and how big to export) sits under its file list."""
        start = str(Path(self._last_dir()) / suggested)
        if options is None:
            path, _ = QFileDialog.getSaveFileName(self, caption, start, file_filter)
            return path or None
        dialog = QFileDialog(self, caption, start, file_filter)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(Path(suggested).suffix.lstrip("."))  # a typed bare name
        # Qt's own dialog: a platform dialog cannot hold our options
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        layout = dialog.layout()
        if hasattr(layout, "rowCount"):
            layout.addWidget(options, layout.rowCount(), 0, 1, -1)
        else:
            layout.addWidget(options)
        if isinstance(options, ExportOptions):  # the name follows the choice (its seed)
            options.changed.connect(lambda: dialog.selectFile(options.file_name()))
        accepted = dialog.exec()
        files = dialog.selectedFiles()
        options.setParent(None)  # read after the dialog has gone
        dialog.deleteLater()
        return files[0] if accepted and files else None

    def _ask_open_path(self, caption: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, caption, self._last_dir(), OPEN_FILTER)
        return path or None

    def _ask_folder(self, caption: str) -> str | None:
        return QFileDialog.getExistingDirectory(self, caption, str(Path.home())) or None

