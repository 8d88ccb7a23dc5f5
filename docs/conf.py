"""Sphinx configuration of the skrec documentation site.

Build it, warnings as errors, with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``SKREC_DOCS_QUICK=1`` runs the example gallery in a smaller configuration (fewer epochs, a
smaller grid), as CI does; ``SKREC_DATA`` says where MovieLens 100k is (see skrec.datasets).
"""

import os
import pathlib
import sys

from sphinx.pycode import ModuleAnalyzer

import skrec

HERE = pathlib.Path(__file__).resolve().parent
# Keras is imported by the examples and by autodoc (skrec's attributes are lazy): keep its
# backend the library's default and its logs quiet.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "skrec"
author = "the skrec developers"
copyright = "the skrec developers"
release = skrec.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build"]
# Every cross-reference must resolve: a broken link to a skrec object fails the build. The
# build runs offline (no intersphinx), so references to other libraries' objects and to
# builtin types stay plain text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(builtins|collections|pathlib|os|numbers|numpy|pandas|scipy|sklearn|keras|keras_rs|jax|matplotlib)(\..*)?"),
    (r"py:.*", r"(np|pd)\..*"),
    # Private skrec objects (a base class, the Keras model class) have no page.
    (r"py:.*", r"skrec\.(\w+\.)*_\w+.*"),
    (r"py:class", r"(int|float|str|bool|dict|list|tuple|set|object|None|callable|iterable|path-like|array-like|file-like)"),
]

# -- API reference: autosummary + numpydoc ------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# Each class page documents the methods skrec defines, inherited ones included (a time
# splitter's split), and not those of scikit-learn or Python (see _skip_foreign_members).
autodoc_default_options = {"show-inheritance": True}
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
# Docstring checks run on every object the API pages document. Left out, as scikit-learn's
# docstring tests leave them out: GL01 (skrec starts the summary on the line of the opening
# quotes, PEP 257 style), RT02 (a Returns entry names the value, ``self : MultiTaskRecommender``),
# GL08 (objects without a docstring), and for methods ES01, SA01 and EX01 (an extended
# summary, See Also and Examples on every method).
numpydoc_validation_checks = {"all", "GL01", "RT02", "GL08", "ES01", "SA01", "EX01"}
# The page of a constant shows its ``#:`` comment, but numpydoc's GL02 check reads the
# object's own docstring, which for a constant is its type's (dict's).
numpydoc_validation_exclude = {r"^skrec\.SEED_PARAMS$"}


# -- Markdown pages (myst) ---------------------------------------------------------------------
# Heading anchors, so that the pages' links to their own sections (#splitting-by-time) resolve.
myst_heading_anchors = 3

# Pages that other branches add; each joins the index's toctree when its file exists.
OPTIONAL_PAGES = ["interaction_data", "side_features"]


def _list_optional_pages(app, docname, source):
    """Add the optional pages that exist to the toctree of the index, after speed_and_scale."""
    if docname != "index":
        return
    present = "".join(f"   {page}\n" for page in OPTIONAL_PAGES if (HERE / f"{page}.md").exists())
    source[0] = source[0].replace("   speed_and_scale\n", "   speed_and_scale\n" + present)


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out the members that a skrec class inherits from scikit-learn or Python."""
    if what not in ("class", "exception"):
        return None
    function = getattr(obj, "fget", obj)  # a property's getter
    module = getattr(function, "__module__", None) or getattr(getattr(obj, "__objclass__", None), "__module__", None)
    return True if not (module or "").startswith("skrec") else None


def _docs_of_lazy_constants(app, what, name, obj, options, lines):
    """Give a constant that ``skrec`` re-exports lazily (SEED_PARAMS) its ``#:`` comment.

    Sphinx looks for such comments in the module being documented, finds none there and falls
    back to the docstring of the value's type (dict's); the comment sits in the module that
    defines the constant.
    """
    short = name.removeprefix("skrec.")
    if what == "data" and short in skrec._LAZY:
        comments = ModuleAnalyzer.for_module(skrec._LAZY[short]).find_attr_docs()
        lines[:] = comments[("", short)]


def setup(app):
    app.connect("source-read", _list_optional_pages)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    # Before numpydoc (priority 500), which then formats the comment.
    app.connect("autodoc-process-docstring", _docs_of_lazy_constants, priority=400)


# -- Example gallery (sphinx-gallery) ----------------------------------------------------------
sys.path.insert(0, str(HERE / "sphinxext"))

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "skrec_gallery.reset_argv",
    "within_subsection_order": "skrec_gallery.ExampleOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "show_memory": False,
    "matplotlib_animations": False,
    # "Examples using X" at the foot of each API page.
    "doc_module": ("skrec",),
    "backreferences_dir": "generated/backreferences",
}

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skrec {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False
