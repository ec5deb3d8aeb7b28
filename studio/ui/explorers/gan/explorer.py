"""The GAN explorer: Seeds, Truncation & directions, Walk and Style mix as tabs, and the
projection dialog.

It turns what the views report into session changes and requests:

- a pick in Seeds makes that seed the *subject* the sliders edit; a projection makes the
  projected w+ code the subject (sample's `latent` input). A given code renders as it is
  (truncation pulls only the styles drawn from seeds), so ψ is off for such a subject;
- the truncation and direction sliders write `truncation` and `edits` (JSON) into the
  session's sample values, so every recipe carries them, and re-render the subject (or
  the whole grid) on a latest-wins lane while they move;
- each setting shows in one place (TAB_PARAMS): the panel hides truncation and the
  edits in Truncation & directions, the seeds and layers in Style mix, and the edits
  everywhere (they are sliders, never JSON; the Seeds grid says which ones it carries);
- the directions (names, layer ranges, σ) come from the model card's
  `config["directions"]`; names are renamed in place and ranges changed; Save writes the project's
  directions file (studio.core.directions, vectors read from the model's weights with
  numpy) and Load reads it: a loaded vector that is not the model's own direction drives
  its slider as {"vector", "sigma"} in the edits;
- walks and interpolations play in Walk; the style-mixing matrix shows in Style mix.

Full renders go through the window (`run`), so they show in the status bar, can be
cancelled with Esc and land in the History.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QStyle, QWidget

from studio.core import directions as core_directions
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui.bridge import EngineBridge
from studio.ui.explorers.base import SAMPLES, Explorer
from studio.ui.explorers.gan.projection import ProjectionDialog
from studio.ui.explorers.gan.views import MAX_NAME, EditView, MixView, SeedsView, WalkView
from studio.ui.file_loader import FileLoader, OpenedFile
from studio.ui.jobs import JobRouter

VIEWS = (SAMPLES, "edit", "walk", "mix")
VIEW_LABELS = {SAMPLES: "Seeds", "edit": "Truncation & directions", "walk": "Walk",
               "mix": "Style mix"}
OPS_OF_VIEW = {SAMPLES: ("sample", "arithmetic", "project"), "edit": ("sample",),
               "walk": ("walk", "interpolate"), "mix": ("mix",)}
# each setting in one place: the tabs' own controls set these, so the panel hides them
# there; the direction edits are sliders in Truncation & directions only (no JSON field)
# (Images is hidden in Truncation & directions too: the edit renders the picked image or
# the whole grid, never a count of its own)
TAB_PARAMS = {SAMPLES: ("edits",), "edit": ("truncation", "edits", "count"),
              "mix": ("row_seeds", "column_seeds", "layers")}
EDIT_LANE, MIX_LANE = "gan-edit", "gan-mix"
PREVIEW_PAUSE_MS = 150  # no slider event for this long: the drag has paused
# a preview frame should take about this long on the worker: the preview level halves when
# one takes 1.5 × as long (a slower or busier machine), doubles when one takes under a
# fifth (a level up costs about 4 × as much: a fifth keeps it from see-sawing)
PREVIEW_FRAME_S = 0.045
DIRECTIONS_FILTER = "Directions (*.json)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff)"


# -- directions: the one model lives in studio.core.directions ------------------------------------
def read_directions(path: str | Path, *, w_dim: int | None = None,
                    num_layers: int | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(model id, [{"name", "layers"[, "vector", "sigma"]}, ...]) from a directions file
    (studio.core.directions.read_any_directions), names cut to what a row shows."""
    return core_directions.read_any_directions(path, w_dim=w_dim, num_layers=num_layers,
                                               max_name=MAX_NAME)


# -- the explorer -------------------------------------------------------------------------------
class GANExplorer(Explorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    TAB_PARAMS = TAB_PARAMS
    animation_hint = "Render a walk first (Walk tab, then Generate)."

    def __init__(self, session: Session, jobs: JobRouter, bridge: EngineBridge,
                 run: Callable[[Request], Any], parent: QWidget | None = None,
                 folder_of: Callable[[str], Path | None] | None = None) -> None:
        """`run(request)` queues a user-visible run (the window's `run_request`): its
        result comes back to `show_result` and goes to the History. `folder_of(model_id)`
        is the model's folder (its library entry's), where Save reads the direction vectors."""
        super().__init__(session, jobs, parent)
        self.bridge = bridge
        self.run = run
        self.folder_of = folder_of
        self.seeds = SeedsView()
        self.edit = EditView()
        self.walk = WalkView()
        self.mix = MixView()
        icons = QStyle.StandardPixmap
        self._add_view(SAMPLES, self.seeds, icons.SP_FileDialogListView,
                       "A grid of samples, one per seed (Ctrl+1)")
        self._add_view("edit", self.edit, icons.SP_FileDialogDetailedView,
                       "Truncation and latent direction sliders on the picked image (Ctrl+2)")
        self._add_view("walk", self.walk, icons.SP_MediaPlay,
                       "A looping latent walk, played in the canvas (Ctrl+3)")
        self._add_view("mix", self.mix, icons.SP_FileDialogContentsView,
                       "Style mixing: coarse styles of one seed, finer ones of another (Ctrl+4)")
        for canvas in self.canvases():
            canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, SAMPLES))
        self.currentChanged.connect(self._on_tabs_current_changed_render)

        self.seeds.picked.connect(self._on_seeds_picked)
        self.seeds.edit_button.clicked.connect(lambda: self.set_view("edit"))
        self.seeds.interpolate_button.clicked.connect(self._on_seeds_interpolate_clicked)
        self.seeds.project_button.clicked.connect(lambda: self.open_projection())
        self.edit.truncation_moved.connect(self._on_edit_truncation_moved)
        self.edit.direction_moved.connect(self._on_edit_direction_moved)
        self.edit.layers_changed.connect(self._on_edit_layers_changed)
        self.edit.scope_changed.connect(self._on_edit_scope_changed)
        self.edit.direction_renamed.connect(self._on_edit_direction_renamed)
        self.edit.direction_reset_requested.connect(self._on_edit_direction_reset_requested)
        self.edit.reset_requested.connect(self._on_edit_reset_requested)
        self.edit.save_requested.connect(self._on_edit_save_requested)
        self.edit.load_requested.connect(self._on_edit_load_requested)
        self.walk.export_requested.connect(self.export_animation_requested)
        self.mix.seeds_edited.connect(self._on_mix_seeds_edited)
        self.mix.layers_chosen.connect(self._on_mix_layers_chosen)

        self.directions: list[core_directions.Direction] = []
        # per model, this run: (name, layers, loaded vector or None, sigma) per direction
        self._names: dict[str, list[tuple[str, tuple[int, int], np.ndarray | None, float]]] = {}
        # what the sliders edit: ("seed", seed) or ("latent", w+ code, description)
        self.subject: tuple[Any, ...] | None = None
        self._edit_dirty = True
        self.dialog: ProjectionDialog | None = None
        self._images = FileLoader(self)  # the projection dialog's images, read off the GUI thread
        self._images.file_read.connect(self._on_images_file_read)
        # live drags on big models (see _live_mode): the full frame once the drag pauses
        self._full_timer = QTimer(self)
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(PREVIEW_PAUSE_MS)
        self._full_timer.timeout.connect(self._on_full_timer_timeout)
        self.edit.truncation_slider.sliderReleased.connect(self._on_truncation_slider_released)
        self._edit_job: Any = None
        self._edit_job_full = False
        self._preview_res = 0  # the level previews stop at, adapted to the machine's speed

    # -- model and session ------------------------------------------------------------------------
    def set_model(self, card: Any) -> None:
        super().set_model(card)
        self.layers = core_directions.layer_count(card)
        self._preview_res = int((card.config or {}).get("preview_resolution") or 0)
        self.directions = core_directions.directions_of(card)
        for direction, (name, layers, vector, sigma) in zip(self.directions,
                                                            self._names.get(card.id, [])):
            direction.name, direction.layers = name, layers
            direction.vector, direction.sigma = vector, sigma
        self.edit.set_directions([(d.name, d.layers, d.sigma) for d in self.directions], self.layers)
        spec = self._spec("sample", "truncation")
        if spec is not None and spec.minimum is not None and spec.maximum is not None:
            self.edit.set_truncation_range(spec.minimum, spec.maximum)
        self.subject = None
        self.mix.set_layer_ranges(card.config.get("layer_ranges") or {})
        if self.dialog is not None and not self.dialog.running():
            self.dialog.reset()  # an image fitted to the old model
        self.set_view(SAMPLES)  # a new model's seeds first
        self.session_changed()

    def _spec(self, op: str, name: str) -> Any:
        try:
            return self.session.op_spec(op).param(name)
        except (AssertionError, KeyError):
            return None

    def _values(self, op: str) -> dict[str, Any] | None:
        try:
            return self.session.values(op)
        except (AssertionError, KeyError):
            return None

    def session_changed(self) -> None:
        """Show the session's truncation, edits and mix settings on the sliders."""
        sample = self._values("sample")
        if sample is not None:
            if "truncation" in sample:
                self.edit.set_truncation(float(sample["truncation"]))
            self._show_edits(sample.get("edits", ""))
        mix = self._values("mix")
        if mix is not None:
            self.mix.set_values(str(mix["row_seeds"]), str(mix["column_seeds"]), str(mix["layers"]))
        self._edit_dirty = True
        if self.current_view() == "edit":
            self.render_edit()

    def _show_edits(self, text: Any) -> None:
        edits = core_directions.read_edits(text)
        if edits is None:
            return  # not readable (a hand-made recipe's): keep the sliders where they are
        for direction in self.directions:
            direction.amount = 0.0
        for edit in edits:
            if "vector" in edit:  # a loaded direction's: the row that holds that vector
                index = next((i for i, d in enumerate(self.directions)
                              if core_directions.same_vector(d.vector, edit["vector"])), -1)
            else:
                index = edit["direction"]
                if 0 <= index < len(self.directions) and self.directions[index].vector is not None:
                    index = -1  # that row moves a loaded vector now, not the model's own
            if 0 <= index < len(self.directions):
                direction = self.directions[index]
                direction.amount += edit["amount"]
                if "layers" in edit:
                    direction.layers = core_directions.clamp_layers(edit["layers"], self.layers)
        for direction, row in zip(self.directions, self.edit.rows):
            row.set_amount(direction.amount)
            row.set_layers(*direction.layers)

    def _write_edits(self) -> None:
        self.session.set_value("edits", core_directions.edits_text_of(self.directions), op="sample")

    def clear(self) -> None:
        super().clear()
        self.subject = None
        self._edit_dirty = True
        self.seeds.edits_note.hide()
        self._show_subject()

    # -- views and results ---------------------------------------------------------------------------
    def view_of(self, request: Request) -> str:
        if request.op == "project":
            return "edit"  # the projection becomes the image the sliders edit
        if request.op == "sample" and ("latent" in request.inputs or self.current_view() == "edit"):
            return "edit"
        return super().view_of(request)

    def show_result(self, result: Result) -> None:
        view = self.view_of(result.request)
        if view != "edit":
            super().show_result(result)
            if view == SAMPLES:
                self._show_grid_edits(result.request)
            if view == SAMPLES and self.subject is not None and self.subject[0] == "seed":
                self.subject = None  # a new grid: the picked seed is gone with the old one
            self._edit_dirty = True
            self._show_subject()
            return
        if result.request.op == "project" and result.latents is not None:
            # your image, unedited: the sliders start from it
            self.subject = ("latent", np.asarray(result.latents[-1], np.float32),
                            "your projected image")
            for direction in self.directions:
                direction.amount = 0.0
            self._write_edits()
            self.session_changed_quietly()
        elif "latent" in result.request.inputs:
            # a restored edit of a latent: edit it on; Seeds keeps sampling by seed
            self.subject = ("latent", np.asarray(result.request.inputs["latent"]), "a restored latent")
            self.session.set_input("latent", None)
        self.edit.show_result(result)
        self._edit_dirty = False
        self._show_subject()

    def _show_grid_edits(self, request: Request) -> None:
        """Say which direction edits the grid on screen carries: the panel does not show
        them (they are the Truncation & directions tab's sliders)."""
        edits = core_directions.read_edits(request.params.get("edits", "")) if request.op == "sample" else []
        moved = []
        for edit in edits or ():
            if "vector" in edit:
                name = next((d.name for d in self.directions
                             if core_directions.same_vector(d.vector, edit["vector"])), "a loaded direction")
            else:
                index = edit["direction"]
                name = (self.directions[index].name if 0 <= index < len(self.directions)
                        else f"Direction {index + 1}")
            moved.append(f"{name} {edit['amount']:+.1f}σ")
        self.seeds.edits_note.setText("With direction edits: " + ", ".join(moved)
                                      + " · change them in Truncation & directions" if moved else "")
        self.seeds.edits_note.setVisible(bool(moved))

    def session_changed_quietly(self) -> None:
        """Sliders from the session, without a render (one is on screen already)."""
        sample = self._values("sample")
        if sample is not None:
            self.edit.set_truncation(float(sample["truncation"]))
            self._show_edits(sample.get("edits", ""))

    def animation_result(self) -> Result | None:
        return self.walk.result

    def animation_fps(self) -> int:
        return self.walk.fps.value()

    def _on_tabs_current_changed_render(self, _index: int) -> None:
        if self.current_view() != "walk":
            self.walk.stop()
        if self.current_view() == "edit" and self._edit_dirty:
            self.render_edit()

    # -- seeds ------------------------------------------------------------------------------------
    def _on_seeds_picked(self) -> None:
        selection = self.seeds.selection
        if selection:
            seed = self.seeds.seed_of(selection[0])
            item = self.seeds.picked_item(0)
            if seed is not None:
                self.subject = ("seed", seed)
            elif item is not None and item[1] is not None:
                self.subject = ("latent", np.asarray(item[1], np.float32), "the picked image")
        self.seeds.edit_button.setEnabled(bool(selection))
        self.seeds.interpolate_button.setEnabled(
            len(selection) == 2 and all(self.seeds.seed_of(i) is not None for i in selection))
        self._edit_dirty = True
        self._show_subject()

    def _grid_seeds(self) -> tuple[int, int] | None:
        """(first seed, count) of the Seeds grid, when it is a plain sample by seeds."""
        grid = self.seeds.result
        if grid is None or grid.request.op != "sample" or "latent" in grid.request.inputs:
            return None
        return int(grid.request.params["seed"]), grid.count

    def _on_seeds_interpolate_clicked(self) -> None:
        seeds = [self.seeds.seed_of(i) for i in self.seeds.selection]
        if len(seeds) != 2 or None in seeds:
            self.message_raised.emit("Pick two seeds first: click one, shift+click another.")
            return
        grid = self.seeds.result
        values = {"seed": seeds[0], "seed_b": seeds[1]}
        for name in ("truncation", "class_index"):  # the ends look like the picked cells
            if grid is not None and name in grid.request.params:
                values[name] = grid.request.params[name]
        self.session.set_view("walk")
        self.session.set_op("interpolate")
        self.session.set_values(values, op="interpolate")
        if self.current_view() == "walk":
            self.view_changed.emit("walk")
        else:
            self.set_view("walk")
        self.run(self.session.request("interpolate"))

    # -- truncation & directions -------------------------------------------------------------------
    def edit_request(self) -> Request | None:
        """The sample request for what the sliders edit, with the session's truncation
        and edits: the subject (one image), or the whole grid."""
        sample = self._values("sample")
        if self.session.model_id is None or sample is None:
            return None
        params, inputs = dict(sample), {}
        grid = self._grid_seeds()
        if self.edit.whole_grid.isChecked():
            if grid is not None:
                params["seed"], params["count"] = grid
        elif self.subject is not None and self.subject[0] == "latent":
            params["count"] = 1
            inputs["latent"] = self.subject[1]
        else:
            seed = self.subject[1] if self.subject is not None else grid[0] if grid else params["seed"]
            params["seed"], params["count"] = seed, 1
        return self.session.request("sample", params=params, inputs=inputs)

    def _live_mode(self) -> str:
        """How a slider drag renders, as the card's config["live_drag"] says (for models
        whose sample op takes a `preview_resolution`). "" (small models): every event a
        full frame, latest wins. "progressive" (StyleGAN2, whose synthesis has an image at
        every level): previews at config["preview_resolution"] while the slider moves,
        the full frame when it pauses. "abandon" (StyleGAN3): full frames, the last one
        kept on screen with a busy mark, a superseded one abandoned midway."""
        if self.card is None or self._spec("sample", "preview_resolution") is None:
            return ""
        mode = str(self.card.config.get("live_drag") or "")
        if mode == "progressive" and int(self.card.config.get("preview_resolution") or 0) <= 0:
            return ""
        return mode if mode in ("progressive", "abandon") else ""

    def render_edit(self, live: bool = False) -> None:
        """Re-render what the sliders edit, latest wins: while a slider drags, only the
        newest request runs and older results are dropped. `live`: a slider moved (see
        _live_mode); a full frame in flight is then abandoned between synthesis blocks."""
        request = self.edit_request()
        if request is None:
            return
        self._edit_dirty = False
        mode = self._live_mode() if live else ""
        if mode and self._edit_job is not None and (self._edit_job_full or mode == "abandon"):
            self.jobs.cancel(self._edit_job)
        full = mode != "progressive"
        if mode == "progressive":
            params = {**request.params, "preview_resolution": self._preview_res}
            request = Request(request.model_id, request.op, params, request.inputs)
            self._full_timer.start()  # restarted by every slider event
        else:
            self._full_timer.stop()
        if mode == "abandon" or (not live and self._live_mode() == "progressive"):
            self.edit.set_busy(True)
        self._edit_job_full = full
        self._edit_job = self.jobs.submit(request, lane=EDIT_LANE, latest_wins=True,
                                          label="edit (live)" if full else "edit (preview)",
                                          on_result=self._on_edit_rendered)

    def _on_full_timer_timeout(self) -> None:
        self.render_edit()  # the drag paused: the full frame

    def _on_truncation_slider_released(self) -> None:
        if self._full_timer.isActive():  # the drag ended: the full frame now, not after the pause
            self._full_timer.stop()
            self.render_edit()

    def _on_edit_rendered(self, _job: Any, result: Result) -> None:
        preview = bool(result.extras.get("preview"))
        if preview:
            self._adapt_preview(float(result.timings.get("run", 0.0)))
        self.edit.show_result(result)
        self.edit.set_busy(preview or self._full_timer.isActive())

    def _adapt_preview(self, seconds: float) -> None:
        """Keep previews near PREVIEW_FRAME_S each: a level down when slower, up when far
        faster (never past a quarter of the model's size, never below 8 px)."""
        top = max(8, int(self.card.resolution) // 4) if self.card is not None else 8
        if seconds > 1.5 * PREVIEW_FRAME_S and self._preview_res > 8:
            self._preview_res //= 2
        elif 0 < seconds < PREVIEW_FRAME_S / 5 and self._preview_res * 2 <= top:
            self._preview_res *= 2

    def _show_subject(self) -> None:
        if self.edit.whole_grid.isChecked():
            grid = self._grid_seeds()
            text = (f"Editing the whole grid: seeds {grid[0]}–{grid[0] + grid[1] - 1}" if grid
                    else "Editing the whole grid (Generate one in Seeds first)")
        elif self.subject is None:
            grid = self._grid_seeds()
            text = (f"Editing seed {grid[0]}, the grid's first: pick another in Seeds" if grid
                    else "Editing the seed in the parameters: pick an image in Seeds")
        elif self.subject[0] == "seed":
            text = f"Editing seed {self.subject[1]} · pick another in Seeds"
        else:
            text = (f"Editing {self.subject[2]}: directions move it; truncation acts on seeds, "
                    "so it is off here")
        self.edit.subject_label.setText(text)
        self.edit.set_truncation_enabled(self.edit.whole_grid.isChecked() or self.subject is None
                                         or self.subject[0] == "seed")

    def _on_edit_truncation_moved(self, psi: float) -> None:
        if self._values("sample") is None:
            return
        self.session.set_value("truncation", psi, op="sample")
        self.render_edit(live=True)

    def _on_edit_direction_moved(self, index: int, amount: float) -> None:
        self.directions[index].amount = amount
        self._write_edits()
        self.render_edit(live=True)

    def _on_edit_layers_changed(self, index: int, first: int, last: int) -> None:
        direction = self.directions[index]
        direction.layers = (first, last)
        self._remember_names()
        if direction.amount:
            self._write_edits()
            self.render_edit()

    def _on_edit_scope_changed(self, _whole_grid: bool) -> None:
        self._show_subject()
        self.render_edit()

    def _on_edit_direction_renamed(self, index: int, name: str) -> None:
        """A name typed in place: the direction's own (what Save writes, what a recipe's
        edits name), not a label of the row's."""
        direction = self.directions[index]
        direction.name = name.strip()[:MAX_NAME]
        self.edit.rows[index].set_name(direction.name)
        self._remember_names()

    def _on_edit_direction_reset_requested(self, index: int) -> None:
        direction = self.directions[index]
        direction.amount, direction.layers = 0.0, direction.card_layers
        self.edit.rows[index].set_amount(0.0)
        self.edit.rows[index].set_layers(*direction.layers)
        self._remember_names()
        self._write_edits()
        self.render_edit()

    def _on_edit_reset_requested(self) -> None:
        for index in range(len(self.directions)):
            direction = self.directions[index]
            direction.amount, direction.layers = 0.0, direction.card_layers
            self.edit.rows[index].set_amount(0.0)
            self.edit.rows[index].set_layers(*direction.layers)
        self._remember_names()
        self._write_edits()
        self.render_edit()

    def _remember_names(self) -> None:
        if self.card is not None:
            self._names[self.card.id] = [(d.name, d.layers, d.vector, d.sigma)
                                         for d in self.directions]

    def _model_directions(self) -> list[core_directions.Direction]:
        """The model's own directions with their vectors, read from its weights (numpy);
        DirectionsError when the folder is unknown or holds none."""
        folder = self.folder_of(self.card.id) if self.folder_of is not None else None
        if folder is None:
            raise core_directions.DirectionsError(
                f"{self.card.id}: the model's folder is unknown, so its direction vectors "
                "cannot be read")
        return core_directions.model_directions(folder, self.card.config,
                                                getattr(self.card, "weights_file",
                                                        "model.safetensors"))

    def _on_edit_save_requested(self) -> None:
        if self.card is None or not self.directions:
            return
        path = self._ask_save_path("Save directions", DIRECTIONS_FILTER,
                                   f"{self.card.id}-directions.json")
        if not path:
            return
        if Path(path).suffix.lower() != ".json":
            path += ".json"
        try:
            own = self._model_directions()
            core_directions.save_directions(
                path, [core_directions.Direction(d.name, d.vector if d.vector is not None
                                                 else own[index].vector, d.layers, d.sigma)
                       for index, d in enumerate(self.directions)],
                model=self.card.id, num_layers=self.layers)
        except core_directions.DirectionsError as exc:
            self.error_raised.emit(f"Could not save the directions: {exc}")
            return
        except OSError as exc:
            self.error_raised.emit(f"Could not save the directions to {path}: {exc.strerror or exc}")
            return
        self.message_raised.emit(f"Saved {len(self.directions)} directions to {path}.")

    def _on_edit_load_requested(self) -> None:
        if self.card is None or not self.directions:
            return
        path = self._ask_open_path("Load directions", DIRECTIONS_FILTER)
        if not path:
            return
        w_dim = (self.card.config or {}).get("w_dim")
        try:
            model, entries = read_directions(path, num_layers=self.layers,
                                             w_dim=int(w_dim) if w_dim else None)
        except ValueError as exc:
            self.error_raised.emit(str(exc))
            return
        if model and model != self.card.id:  # "": a file that does not say
            self.error_raised.emit(f"{Path(path).name} holds the directions of {model!r}, not of "
                                   f"{self.card.id!r}: nothing was changed.")
            return
        own: list[core_directions.Direction] = []
        if any("vector" in entry for entry in entries):
            try:
                own = self._model_directions()
            except core_directions.DirectionsError:
                own = []  # the model's own cannot be told apart: every vector goes as loaded
        card = core_directions.directions_of(self.card)
        for index, (direction, row, entry) in enumerate(zip(self.directions, self.edit.rows,
                                                            entries)):
            direction.name = entry["name"]
            direction.layers = core_directions.clamp_layers(entry["layers"], self.layers)
            if "vector" in entry:
                mine = own[index] if index < len(own) else None
                if (mine is not None and core_directions.same_vector(entry["vector"], mine.vector)
                        and np.isclose(entry["sigma"], card[index].sigma)):
                    direction.vector, direction.sigma = None, card[index].sigma
                else:
                    direction.vector, direction.sigma = entry["vector"], entry["sigma"]
                row.sigma = direction.sigma
            row.set_name(direction.name)
            row.set_layers(*direction.layers)
        self._remember_names()
        if any(d.amount for d in self.directions):
            self._write_edits()
            self.render_edit()
        self.message_raised.emit(f"Loaded {min(len(entries), len(self.directions))} directions "
                                 f"from {Path(path).name}.")

    def _keep_edit(self) -> None:
        request = self.edit_request()
        if request is None:
            self.message_raised.emit("Pick a model first.")
            return
        self.run(request)

    # -- style mix -----------------------------------------------------------------------------------
    def _on_mix_seeds_edited(self, rows: str, columns: str) -> None:
        if self._values("mix") is None:
            return
        self.session.set_values({"row_seeds": rows, "column_seeds": columns}, op="mix")

    def _on_mix_layers_chosen(self, layers: str) -> None:
        if self._values("mix") is None:
            return
        self.session.set_value("layers", layers, op="mix")
        if self.mix.result is not None and self.session.model_id is not None:
            request = self.session.request("mix")
            self.jobs.submit(request, lane=MIX_LANE, latest_wins=True, label="mix (live)",
                             on_result=lambda _job, result: self.mix.show_result(result))

    # -- hooks ---------------------------------------------------------------------------------------
    def take_generate(self) -> bool:
        if self.current_view() == "mix":  # the seeds being typed are part of this run
            self._on_mix_seeds_edited(self.mix.rows_edit.text(), self.mix.columns_edit.text())
            return False
        if self.current_view() == "edit":
            self._keep_edit()
            return True
        if self.session.op == "project":
            self.open_projection(self.session.inputs.get("image"))
            return True
        return False

    def rerender_live(self) -> bool:
        sample = self._values("sample")
        if sample is not None and core_directions.read_edits(sample.get("edits", "")) is None:
            return True  # edits that do not parse (a hand-made recipe's): nothing to render
        self.session_changed_quietly()
        if self.current_view() == "edit":
            self.render_edit()
            return True
        return False

    def take_image(self, image: np.ndarray, path: str) -> bool:
        self.open_projection(image)
        return True

    # -- projection ----------------------------------------------------------------------------------
    def open_projection(self, image: np.ndarray | None = None) -> ProjectionDialog:
        """Show the projection dialog, with `image` as its target if given."""
        if self.dialog is None:
            self.dialog = ProjectionDialog(self.bridge, self.window())
            self.dialog.choose_requested.connect(self._on_dialog_choose_requested)
            self.dialog.files_dropped.connect(self._on_dialog_files_dropped)
            self.dialog.start_requested.connect(self._on_dialog_start_requested)
            self.dialog.cancel_requested.connect(self._on_dialog_cancel_requested)
        steps = self._values("project")
        if steps is not None and not self.dialog.running():
            self.dialog.steps.setValue(int(steps["steps"]))
        if image is not None:
            self.dialog.set_image(np.asarray(image))
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def _load_into_dialog(self, path: str) -> None:
        """Read an image for the projection dialog on the image loader's thread (a big
        file takes seconds); any file is an image here, a recipe in it is not restored."""
        if self.card is not None:
            self._images.load([path], context=self.card.id, fit=(self.card.resolution, self.card.channels),
                              recipes=False)

    def _on_images_file_read(self, opened: OpenedFile, card_id: str) -> None:
        if self.dialog is None or self.card is None or card_id != self.card.id:
            return  # closed, or fitted for a model no longer shown
        if opened.error is not None:
            self.dialog.show_error(opened.error)
        elif opened.fitted is not None:
            self.dialog.set_image(opened.fitted)

    def _on_dialog_choose_requested(self) -> None:
        path = self._ask_open_path("Choose an image to project", IMAGE_FILTER)
        if path:
            self._load_into_dialog(path)

    def _on_dialog_files_dropped(self, files: list) -> None:
        if files:
            self._load_into_dialog(files[0])

    def _on_dialog_start_requested(self, steps: int) -> None:
        dialog = self.dialog
        if dialog is None or dialog.image is None or self.session.model_id is None:
            return
        if self._values("project") is None:
            dialog.show_error("This model cannot project images.")
            return
        self.session.set_value("steps", steps, op="project")
        self.session.set_input("image", dialog.image)
        job = self.run(self.session.request("project"))
        if job is None:
            dialog.show_error("The projection could not start: see the message in the window.")
            return
        dialog.track(job)

    def _on_dialog_cancel_requested(self) -> None:
        if self.dialog is not None and self.dialog.job is not None:
            self.jobs.cancel(self.dialog.job)

    # -- dialogs (separate methods, so tests can answer for the user) -------------------------------------
    def _ask_save_path(self, caption: str, file_filter: str, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path.home() / suggested), file_filter)
        return path or None

    def _ask_open_path(self, caption: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, caption, str(Path.home()), file_filter)
        return path or None
