"""The frozen app's entry point: the same `studio` command line as the source tree.

No arguments opens the window; `--self-check` runs the packaged self-check headless;
`--version` prints the version.
"""

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
