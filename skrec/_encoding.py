"""Vocabulary of raw user or item ids (ints with gaps, huge ints, strings) <-> contiguous indices.

Embedding rows are indexed by position in a sorted vocabulary, never by a raw id, so ids may
be any hashable values of one type.
"""

import numpy as np
import pandas as pd

__all__ = ["IdEncoder", "id_kind"]


class IdEncoder:
    """Map raw ids to ``0 .. n - 1`` and back.

    Parameters
    ----------
    ids : pandas.Series
        The ids seen in training (repetitions allowed).

    Attributes
    ----------
    index : pandas.Index
        The distinct ids, sorted; position ``i`` holds the id of embedding row ``i``.
    """

    def __init__(self, ids):
        self.index = pd.Index(pd.unique(ids), name=getattr(ids, "name", None)).sort_values()

    def extended(self, ids):
        """A new encoder whose vocabulary appends the unseen ``ids`` (sorted) after the known.

        Known ids keep their indices, so embedding rows learned before stay where they are.

        Raises
        ------
        TypeError
            If ``ids`` are of another kind (numbers, strings, ...) than the vocabulary's: the
            same value as a string and as a number would otherwise be two ids.
        """
        self.check_kind(ids, "this fit", whose="the fitted model's", remedy=", or set warm_start=False to refit")
        unseen = pd.Index(pd.unique(ids), name=self.index.name)
        unseen = unseen[self.index.get_indexer(unseen) < 0].sort_values()
        return IdEncoder.from_index(self.index.append(unseen) if len(unseen) else self.index)

    def check_kind(self, ids, where, whose="the model's", remedy=""):
        """Raise ``TypeError`` if ``ids`` are of another kind (numbers, strings) than the vocabulary's.

        An id of another kind can never match (``'1'`` is not ``1``): without this check a whole
        request would silently be unknown, and a warm fit would make one id two.
        """
        if not len(ids):
            return
        given, known = id_kind(pd.Index(ids)), id_kind(self.index)
        if given != known:
            raise TypeError(
                f"The {self.index.name!r} ids of {where} are {given}, but {whose} are {known} (dtype "
                f"{self.index.dtype}): '1' and 1 are different ids. Convert them, e.g. with "
                f".astype({'int' if known == 'numbers' else 'str'}){remedy}."
            )

    @classmethod
    def from_index(cls, index):
        """An encoder whose vocabulary is ``index``, in its order (e.g. one read from a file)."""
        encoder = cls.__new__(cls)
        encoder.index = pd.Index(index)
        return encoder

    def __len__(self):
        return len(self.index)

    def transform(self, ids):
        """Return the indices of ``ids`` as int64, ``-1`` where an id is unknown."""
        # `get_indexer` needs comparable dtypes; an id of another type is simply unknown.
        try:
            codes = self.index.get_indexer(pd.Index(ids))
        except TypeError:
            codes = np.full(len(ids), -1)
        return np.asarray(codes, dtype=np.int64)

    def inverse_transform(self, codes):
        """Return the raw ids at positions ``codes``."""
        return self.index.take(np.asarray(codes)).to_numpy()


def id_kind(index):
    """The kind of ids an index holds: ``"numbers"``, ``"strings"`` or pandas' inferred type."""
    inferred = pd.api.types.infer_dtype(index, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numbers"
    return "strings" if inferred == "string" else inferred
