"""Executes notebooks headless, in order, failing on the first cell error.

usage: python run_notebooks.py NOTEBOOK...   (reads the run from $COORDSIM_RUN)
"""
import sys

import nbformat
from nbclient import NotebookClient


def main(paths):
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": "notebooks"}})
        client.execute()
        print(f"ok: {path} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main(sys.argv[1:])
