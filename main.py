"""`python main.py` opens the Latent Studio window (the same as `studio` with no command)."""

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main([]))
