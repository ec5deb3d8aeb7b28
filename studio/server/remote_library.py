"""The server's models as a library, for the window's model dock while it runs against a
`studio serve` (GET /v1/models). No Qt.

Entries carry the server's cards. A model this machine has too keeps its local folder
(its thumbnail, a GAN's directions file); a model only the server has gets a folder that
does not exist here, which the window treats as a folder without those files. Imports
are refused while connected: the server's models are imported on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.cards import CardError, ModelCard
from studio.core.library import ModelEntry

NOWHERE = Path("/nonexistent/studio-server-model")  # a folder no file is read from


@dataclass(frozen=True)
class ServerEntry(ModelEntry):
    """A model the server has: a library entry whose weights' size the server told."""

    server_size: int = 0

    @property
    def size_bytes(self) -> int:
        return self.server_size


class ServerLibrary:
    def __init__(self, rows: list[dict[str, Any]], local: Any) -> None:
        """`rows`: GET /v1/models's "models"; `local`: this machine's library."""
        self.local = local
        self.problems: list[str] = []
        self._entries: dict[str, ServerEntry] = {}
        for row in rows:
            try:
                card = ModelCard.from_dict(dict(row["card"]), source=f"server model {row.get('id')!r}")
            except (CardError, KeyError, TypeError) as exc:
                self.problems.append(f"skipped a model the server listed: {exc}")
                continue
            try:
                folder = Path(local.get(card.id).folder)
            except KeyError:
                folder = NOWHERE / card.id
            self._entries[card.id] = ServerEntry(card, folder, bool(row.get("builtin", False)),
                                                 int(row.get("size_bytes", 0)))

    @property
    def home(self) -> Any:
        return getattr(self.local, "home", None)

    def entries(self) -> list[ServerEntry]:
        return list(self._entries.values())

    def get(self, model_id: str) -> ServerEntry:
        try:
            return self._entries[model_id]
        except KeyError:
            raise KeyError(f"the server has no model {model_id!r}") from None

    def import_folder(self, path: Any) -> Any:
        raise ValueError(f"{path}: the window runs on a server, which imports its own models "
                         "(`studio import` there); Engine ▸ Use This Machine to import here")
