"""The "dots" family's explorer: the samples grid, and a second tab of one big dot field."""

from __future__ import annotations

from PySide6.QtWidgets import QStyle

from studio.ui.canvas import Canvas
from studio.ui.explorers.base import SAMPLES, Explorer, SamplesView


class FieldView(SamplesView):
    """The first image alone."""

    def show_result(self, result) -> None:
        super().show_result(result)


class DotsExplorer(Explorer):
    VIEWS = (SAMPLES, "field")
    VIEW_LABELS = {SAMPLES: "Dots", "field": "Field"}

    @classmethod
    def from_context(cls, ctx) -> DotsExplorer:
        return cls(ctx.session, ctx.jobs)

    def __init__(self, session, jobs, parent=None) -> None:
        super().__init__(session, jobs, parent)
        samples = SamplesView()
        samples.interpolate_button.hide()
        self._add_view(SAMPLES, samples, QStyle.StandardPixmap.SP_FileDialogListView)
        self._add_view("field", FieldView(), tip="One field of dots")
        assert isinstance(self.views["field"].canvas, Canvas)
