"""The book's own tooling: validate ``book.toml``, pair the notebooks, fetch the offline assets
and build the Jupyter Book. Not part of the ``companion`` library or its wheel; it runs from a
clone of the repository (the Makefile calls ``python -m booktools``)."""
