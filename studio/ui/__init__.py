"""The PySide6 user interface. Receives numpy arrays; never imports torch."""
