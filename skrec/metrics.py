"""Offline ranking metrics for top-k recommendation lists and scikit-learn scorers built on them.

The metrics follow the evaluation protocol P2 of ``BENCHMARK.md``. Each one compares two
long-format pandas DataFrames:

``recommended``
    The output of :meth:`skrec.MultiTaskRecommender.recommend`: one row per (user, position) with the
    columns ``user_col``, ``"rank"`` (1 for the best item), ``item_col`` and ``"score"``. Only
    ``user_col`` and ``item_col`` are required. Without a ``"rank"`` column the row order within
    each user gives the ranks.
``relevant``
    The held-out (user, item) pairs that count as relevant, for example the test ratings of 4 or
    5, with an optional gain column for graded relevance.

Averages are taken over the users that appear in ``relevant``: a user with no relevant item is
left out, and a user of ``relevant`` with no row in ``recommended`` scores 0. Everything is
computed with merges and group-bys on the (user, item) pairs, never with a dense
users x items matrix, so millions of users fit in memory.

Dense per-list metrics over the whole catalogue live in :mod:`keras_rs.metrics`; the tests of this
module use them as the reference where the definitions agree.

Malformed input
---------------
Every metric stays in its documented range for any input: a frame it cannot read as a set of
rankings is refused with a ``ValueError`` that names the frame, the column, the user and the
value at fault. ``recommended`` is read as one ranking per user, so:

* **Ranks must be distinct within a user.** Tied ranks (five items all at rank 1) are refused
  rather than broken. A tie straddling rank ``k`` leaves it undefined which items are in the
  top-k list; averaging over ties (as :func:`sklearn.metrics.ndcg_score` does) needs the
  scores and gains of the whole tied group and gives fractional hits to precision and recall.
  ``recommend`` never ties, so a tie means a bug upstream (ranks computed with
  ``method="min"``, two lists concatenated), and a number computed from it would hide the bug.
* **Items must be distinct within a user.** An item listed twice is refused too, for the same
  reason: a ranking shows each item once.
* **Ranks must be whole numbers >= 1** (ints, or floats such as ``2.0``). NaN, infinite, zero,
  negative and fractional ranks, and a non-numeric ``"rank"`` column, are refused.
* **Ranks may have gaps.** A rank is a position, so ranks 1, 3, 7 mean that positions 2, 4, 5
  and 6 hold items not in the frame (for example rows filtered out after ranking); they count
  as not relevant. Requiring exactly 1..n would refuse such filtered lists, and gaps cannot
  push a metric out of range: with distinct ranks the j-th hit of a list sits at rank >= j.
* **Ranks above k and rows past the k-th are ignored**, so lists may be longer than ``k``.
  Row order does not matter when there is a ``"rank"`` column; without one, each user's rows
  are ranked 1, 2, 3, ... in the order they appear (other users' rows may be interleaved).
* **Ids may not be missing** (NaN or None) in ``user_col`` or ``item_col`` of either frame:
  pandas would match a missing id to another missing id.

These checks cover the whole of ``recommended``, including rows past rank ``k`` and users
that have no relevant item. :func:`coverage_at_k` has no user column, so it checks only the
rank values and the item ids (and, without a ``"rank"`` column, counts every row); it stays in
[0, 1] whatever the lists hold. ``relevant`` is read as a set: a repeated (user, item) pair counts
once (for graded NDCG with its first row's gain), and users of ``recommended`` that are not in
``relevant`` are left out. Graded gains must be finite and non-negative. No input frame is
modified.
"""

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from skrec._warnings import warn
from skrec.exceptions import ColdStartWarning

__all__ = [
    "coverage_at_k",
    "hit_rate_at_k",
    "intra_list_diversity",
    "novelty",
    "make_ranking_scorer",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]

_RANK_COL = "rank"


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in the range [1, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def _check_frame(frame, name, columns, owner):
    """Check that ``frame`` is a DataFrame holding ``columns`` ({column: parameter name})."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{owner} expects {name!r} to be a pandas DataFrame. "
            f"Got {type(frame).__name__} instead."
        )
    for column, param in columns.items():
        if column not in frame.columns:
            raise ValueError(
                f"{owner}: the {name!r} frame has no column {column!r} (its columns are "
                f"{list(frame.columns)}). Pass {param}= to name the column to use."
            )


def _check_gains(gains, gain_col, owner):
    values = pd.to_numeric(gains, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = gains.iloc[[int(np.argmax(bad))]].tolist()[0]
        raise ValueError(
            f"{owner}: column {gain_col!r} of 'relevant' must hold finite, non-negative gains; "
            f"{int(bad.sum())} value(s) are not (first: {first!r})."
        )
    return values


def _check_ids_present(frame, name, columns, owner):
    """Refuse missing ids: pandas merges would match a missing id with another missing id."""
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            label = frame.index[[int(np.argmax(missing))]].tolist()[0]
            raise ValueError(
                f"{owner}: column {column!r} of {name!r} holds {int(missing.sum())} missing "
                f"value(s) (first at index {label!r}). Drop or fill those rows."
            )


def _value_at(column, position):
    """The value at ``position`` as a Python scalar, so messages show ``1``, not ``np.int64(1)``."""
    return column.iloc[[position]].tolist()[0]


def _check_rank_dtype(ranks, owner):
    # An empty frame built with `pd.DataFrame(columns=[...])` has object columns: let it pass.
    numeric = pd.api.types.is_numeric_dtype(ranks) or len(ranks) == 0
    if pd.api.types.is_bool_dtype(ranks) or not numeric:
        raise ValueError(
            f"{owner}: column {_RANK_COL!r} of 'recommended' must hold numbers (1 = best). "
            f"Got dtype {ranks.dtype} instead."
        )


def _rank_values(recommended, owner, user_col=None):
    """The ``"rank"`` column as floats, checked to hold whole numbers >= 1."""
    ranks = recommended[_RANK_COL]
    _check_rank_dtype(ranks, owner)
    values = ranks.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.floor(values))
    if bad.any():
        row = int(np.argmax(bad))
        user = "" if user_col is None else f", user {_value_at(recommended[user_col], row)!r}"
        raise ValueError(
            f"{owner}: column {_RANK_COL!r} of 'recommended' must hold whole numbers >= 1 "
            f"(1 = best); {int(bad.sum())} value(s) are not (first: {_value_at(ranks, row)!r} "
            f"at index {recommended.index[[row]].tolist()[0]!r}{user})."
        )
    return values


def _check_no_ties(top, user_col, owner):
    """Refuse a user whose list gives the same rank to two rows."""
    tied = top.duplicated([user_col, _RANK_COL], keep=False).to_numpy()
    if tied.any():
        user = _value_at(top[user_col], int(np.argmax(tied)))
        ranks = np.sort(top.loc[(top[user_col] == user).to_numpy(), _RANK_COL].to_numpy())
        shown = ", ".join(str(int(rank)) for rank in ranks[:10])
        shown += ", ..." if len(ranks) > 10 else ""
        raise ValueError(
            f"{owner}: the ranks of 'recommended' must be distinct within each user; "
            f"{top.loc[tied, user_col].nunique()} user(s) have tied ranks (first: user "
            f"{user!r}, ranks [{shown}]). Number each user's items 1, 2, 3, ... without ties."
        )


def _check_distinct_items(top, user_col, item_col, owner):
    """Refuse a user whose list holds the same item twice."""
    repeated = top.duplicated([user_col, item_col], keep=False).to_numpy()
    if repeated.any():
        row = int(np.argmax(repeated))
        user, item = _value_at(top[user_col], row), _value_at(top[item_col], row)
        same = ((top[user_col] == user) & (top[item_col] == item)).to_numpy()
        raise ValueError(
            f"{owner}: each user's list in 'recommended' must hold distinct items; "
            f"{top.loc[repeated, user_col].nunique()} user(s) list an item more than once "
            f"(first: user {user!r}, item {item!r} at ranks "
            f"{[int(rank) for rank in np.sort(top.loc[same, _RANK_COL].to_numpy())]})."
        )


def _ranked_lists(recommended, user_col, item_col, owner):
    """``recommended``'s user, item and float rank columns, checked to be one ranking per user."""
    _check_ids_present(recommended, "recommended", [user_col, item_col], owner)
    top = recommended[[user_col, item_col]].copy()
    if _RANK_COL in recommended.columns:
        top[_RANK_COL] = _rank_values(recommended, owner, user_col)
    else:
        top[_RANK_COL] = top.groupby(user_col, sort=False).cumcount().to_numpy(dtype=float) + 1
    _check_no_ties(top, user_col, owner)
    _check_distinct_items(top, user_col, item_col, owner)
    return top


# --------------------------------------------------------------------------------------------
# The shared step: which recommended items are relevant, and at which rank
# --------------------------------------------------------------------------------------------


def _prepare(relevant, recommended, k, user_col, item_col, owner, gain_col=None):
    """Validate the inputs and match the top-k lists against the relevant pairs.

    Returns
    -------
    rel : DataFrame
        The relevant pairs without duplicates: ``user_col``, ``item_col`` and ``"gain"``.
    n_relevant : Series
        The number of relevant items per user, indexed by user id; its length is the number of
        users the metrics average over.
    hits : DataFrame
        One row per relevant item found in a user's top-k list, in rank order within each
        user: ``user_col``, ``item_col``, ``"rank"`` (float) and ``"gain"``.
    """
    k = _check_positive_int(k, "k", owner)
    required = {user_col: "user_col", item_col: "item_col"}
    if gain_col is not None:
        required[gain_col] = "gain_col"
    _check_frame(relevant, "relevant", required, owner)
    _check_frame(recommended, "recommended", {user_col: "user_col", item_col: "item_col"}, owner)
    if len(relevant) == 0:
        raise ValueError(
            f"{owner}: 'relevant' has no rows, so there are no users to evaluate. Pass the "
            "held-out (user, item) pairs that count as relevant, for example the test ratings "
            "of 4 or more."
        )

    _check_ids_present(relevant, "relevant", [user_col, item_col], owner)
    rel = relevant[[user_col, item_col]].copy()
    rel["gain"] = 1.0 if gain_col is None else _check_gains(relevant[gain_col], gain_col, owner)
    rel = rel.drop_duplicates([user_col, item_col])
    n_relevant = rel.groupby(user_col, sort=False).size()

    top = _ranked_lists(recommended, user_col, item_col, owner)
    top = top[top[_RANK_COL] <= k]
    # Each (user, item) pair occurs at most once on each side, so each hit is one row. Sorting
    # by rank puts each user's hits in rank order, which `map_at_k` relies on.
    hits = top.merge(rel, on=[user_col, item_col], how="inner").sort_values(
        _RANK_COL, kind="stable"
    )
    return rel, n_relevant, hits


def _log2_discount(ranks):
    """The rank discount of P2: ``1 / log2(rank + 1)``."""
    return 1.0 / np.log2(np.asarray(ranks, dtype=float) + 1.0)


# --------------------------------------------------------------------------------------------
# Public metrics
# --------------------------------------------------------------------------------------------


def recall_at_k(relevant, recommended, *, k=10, user_col="user_id", item_col="movie_id"):
    """Recall@k: the share of each user's relevant items found in their top-k list.

    For a user with relevant set R and top-k list L, recall is ``|L ∩ R| / |R|``. The result is
    the mean over the users that appear in ``relevant``.

    Parameters
    ----------
    relevant : DataFrame
        The held-out pairs that count as relevant, with columns ``user_col`` and ``item_col``.
        Duplicate pairs count once.
    recommended : DataFrame
        The recommendation lists in long format, with columns ``user_col`` and ``item_col`` and,
        optionally, ``"rank"`` (1 = best). Without ``"rank"``, the row order within each user
        gives the ranks. Each user's items and ranks must be distinct, and ranks whole numbers
        >= 1 (gaps are allowed). Only ranks 1 to ``k`` are used.
    k : int, default=10
        The length of the lists that are scored.
    user_col : str, default="user_id"
        The column holding user ids in both frames.
    item_col : str, default="movie_id"
        The column holding item ids in both frames.

    Returns
    -------
    float
        The mean recall@k, in [0, 1].

    Raises
    ------
    ValueError
        If ``relevant`` is empty, a column is missing, ``k`` is not a positive int, an id is
        missing, or a user's list in ``recommended`` repeats a rank or an item or has a rank
        that is not a whole number >= 1 (see the module docstring).

    See Also
    --------
    precision_at_k : Divides by ``k`` instead of by the number of relevant items.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import recall_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2],
    ...                             "movie_id": [10, 11, 10, 12]})
    >>> relevant = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [11, 13, 14]})
    >>> recall_at_k(relevant, recommended, k=2)  # user 1: 1/1, user 2: 0/2
    0.5
    """
    _, n_relevant, hits = _prepare(
        relevant, recommended, k, user_col, item_col, "recall_at_k"
    )
    per_hit = 1.0 / hits[user_col].map(n_relevant).to_numpy(dtype=float)
    return float(per_hit.sum() / len(n_relevant))


def precision_at_k(relevant, recommended, *, k=10, user_col="user_id", item_col="movie_id"):
    """Precision@k: the share of each user's top-k list that is relevant.

    For a user with relevant set R and top-k list L, precision is ``|L ∩ R| / k``. It divides by
    ``k`` even when the user has fewer than ``k`` recommendations, as protocol P2 defines it.
    The result is the mean over the users that appear in ``relevant``.

    Parameters
    ----------
    relevant : DataFrame
        The held-out pairs that count as relevant, with columns ``user_col`` and ``item_col``.
        Duplicate pairs count once.
    recommended : DataFrame
        The recommendation lists in long format, with columns ``user_col`` and ``item_col`` and,
        optionally, ``"rank"`` (1 = best). Without ``"rank"``, the row order within each user
        gives the ranks. Each user's items and ranks must be distinct, and ranks whole numbers
        >= 1 (gaps are allowed). Only ranks 1 to ``k`` are used.
    k : int, default=10
        The length of the lists that are scored.
    user_col : str, default="user_id"
        The column holding user ids in both frames.
    item_col : str, default="movie_id"
        The column holding item ids in both frames.

    Returns
    -------
    float
        The mean precision@k, in [0, 1].

    Raises
    ------
    ValueError
        If ``relevant`` is empty, a column is missing, ``k`` is not a positive int, an id is
        missing, or a user's list in ``recommended`` repeats a rank or an item or has a rank
        that is not a whole number >= 1 (see the module docstring).

    See Also
    --------
    recall_at_k : Divides by the number of relevant items instead of by ``k``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import precision_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2],
    ...                             "movie_id": [10, 11, 10, 12]})
    >>> relevant = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [11, 13, 14]})
    >>> precision_at_k(relevant, recommended, k=2)  # user 1: 1/2, user 2: 0/2
    0.25
    """
    _, n_relevant, hits = _prepare(
        relevant, recommended, k, user_col, item_col, "precision_at_k"
    )
    return float(len(hits) / (k * len(n_relevant)))


def hit_rate_at_k(relevant, recommended, *, k=10, user_col="user_id", item_col="movie_id"):
    """HitRate@k: the share of users with at least one relevant item in their top-k list.

    Parameters
    ----------
    relevant : DataFrame
        The held-out pairs that count as relevant, with columns ``user_col`` and ``item_col``.
    recommended : DataFrame
        The recommendation lists in long format, with columns ``user_col`` and ``item_col`` and,
        optionally, ``"rank"`` (1 = best). Without ``"rank"``, the row order within each user
        gives the ranks. Each user's items and ranks must be distinct, and ranks whole numbers
        >= 1 (gaps are allowed). Only ranks 1 to ``k`` are used.
    k : int, default=10
        The length of the lists that are scored.
    user_col : str, default="user_id"
        The column holding user ids in both frames.
    item_col : str, default="movie_id"
        The column holding item ids in both frames.

    Returns
    -------
    float
        The hit rate, in [0, 1].

    Raises
    ------
    ValueError
        If ``relevant`` is empty, a column is missing, ``k`` is not a positive int, an id is
        missing, or a user's list in ``recommended`` repeats a rank or an item or has a rank
        that is not a whole number >= 1 (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import hit_rate_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2],
    ...                             "movie_id": [10, 11, 10, 12]})
    >>> relevant = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [11, 13, 14]})
    >>> hit_rate_at_k(relevant, recommended, k=2)  # user 1 has a hit, user 2 has none
    0.5
    """
    _, n_relevant, hits = _prepare(
        relevant, recommended, k, user_col, item_col, "hit_rate_at_k"
    )
    return float(hits[user_col].nunique() / len(n_relevant))


def ndcg_at_k(
    relevant, recommended, *, k=10, user_col="user_id", item_col="movie_id", gain_col=None
):
    """NDCG@k: discounted cumulative gain of the top-k list, divided by its best possible value.

    For a user, ``DCG@k = sum_{i=1..k} g_i / log2(i + 1)``, where ``g_i`` is the gain of the item
    at rank ``i`` (0 for an item that is not relevant). The ideal DCG puts the user's
    ``min(|R|, k)`` largest gains at the top. NDCG is their ratio, and the result is its mean
    over the users that appear in ``relevant``.

    Parameters
    ----------
    relevant : DataFrame
        The held-out pairs that count as relevant, with columns ``user_col`` and ``item_col``
        (and ``gain_col`` for graded relevance). Duplicate pairs count once (the first row).
    recommended : DataFrame
        The recommendation lists in long format, with columns ``user_col`` and ``item_col`` and,
        optionally, ``"rank"`` (1 = best). Without ``"rank"``, the row order within each user
        gives the ranks. Each user's items and ranks must be distinct, and ranks whole numbers
        >= 1 (gaps are allowed). Only ranks 1 to ``k`` are used.
    k : int, default=10
        The length of the lists that are scored.
    user_col : str, default="user_id"
        The column holding user ids in both frames.
    item_col : str, default="movie_id"
        The column holding item ids in both frames.
    gain_col : str or None, default=None
        ``None`` gives every relevant pair a gain of 1 (binary NDCG, as in protocol P2). A
        column name takes graded gains from that column of ``relevant``; they must be finite and
        non-negative and are used as they are (pass ``2**rating - 1`` for exponential gains).

    Returns
    -------
    float
        The mean NDCG@k, in [0, 1]. A user whose gains are all 0 has an ideal DCG of 0 and
        scores 0.

    Raises
    ------
    ValueError
        If ``relevant`` is empty, a column is missing, a gain is negative or not finite,
        ``k`` is not a positive int, an id is missing, or a user's list in ``recommended``
        repeats a rank or an item or has a rank that is not a whole number >= 1 (see the module
        docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import ndcg_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1], "rank": [1, 2], "movie_id": [10, 11]})
    >>> relevant = pd.DataFrame({"user_id": [1], "movie_id": [11], "rating": [5.0]})
    >>> # DCG = 1 / log2(3); ideal DCG = 1 / log2(2) = 1
    >>> round(ndcg_at_k(relevant, recommended, k=2), 4)
    0.6309
    >>> round(ndcg_at_k(relevant, recommended, k=2, gain_col="rating"), 4)
    0.6309
    """
    rel, n_relevant, hits = _prepare(
        relevant, recommended, k, user_col, item_col, "ndcg_at_k", gain_col=gain_col
    )
    if gain_col is None:
        # Binary gains: the ideal DCG of a user depends only on min(|R|, k).
        ideal_table = np.cumsum(_log2_discount(np.arange(1, k + 1)))
        ideal = pd.Series(
            ideal_table[np.minimum(n_relevant.to_numpy(), k) - 1], index=n_relevant.index
        )
    else:
        ideal = _ideal_dcg(rel, k, user_col)
    dcg = _dcg_per_user(hits, user_col)
    ideal_of_hit_users = ideal.reindex(dcg.index).to_numpy()
    ratios = np.divide(dcg.to_numpy(), ideal_of_hit_users,
                       out=np.zeros(len(dcg)), where=ideal_of_hit_users > 0)
    return float(ratios.sum() / len(n_relevant))


def _dcg_per_user(hits, user_col):
    contributions = hits["gain"].to_numpy() * _log2_discount(hits[_RANK_COL])
    return pd.Series(contributions, index=hits[user_col].to_numpy()).groupby(
        level=0, sort=False
    ).sum()


def _ideal_dcg(rel, k, user_col):
    """The ideal DCG@k per user: the user's k largest gains at ranks 1..k."""
    ordered = rel.sort_values("gain", ascending=False, kind="stable")
    position = ordered.groupby(user_col, sort=False).cumcount().to_numpy() + 1
    keep = position <= k
    contributions = ordered["gain"].to_numpy()[keep] * _log2_discount(position[keep])
    return pd.Series(contributions, index=ordered[user_col].to_numpy()[keep]).groupby(
        level=0, sort=False
    ).sum()


def map_at_k(relevant, recommended, *, k=10, user_col="user_id", item_col="movie_id"):
    """MAP@k: mean average precision of the top-k lists.

    For a user with relevant set R, ``AP@k = (1 / min(|R|, k)) * sum_{i=1..k} P@i * rel_i``,
    where ``P@i`` is the precision of the first ``i`` items and ``rel_i`` is 1 if the item at
    rank ``i`` is relevant, else 0. Dividing by ``min(|R|, k)`` rather than ``|R|`` makes a
    perfect top-k list score 1 even when the user has more than ``k`` relevant items. The result
    is the mean over the users that appear in ``relevant``.

    Parameters
    ----------
    relevant : DataFrame
        The held-out pairs that count as relevant, with columns ``user_col`` and ``item_col``.
        Duplicate pairs count once.
    recommended : DataFrame
        The recommendation lists in long format, with columns ``user_col`` and ``item_col`` and,
        optionally, ``"rank"`` (1 = best). Without ``"rank"``, the row order within each user
        gives the ranks. Each user's items and ranks must be distinct, and ranks whole numbers
        >= 1 (gaps are allowed). Only ranks 1 to ``k`` are used.
    k : int, default=10
        The length of the lists that are scored.
    user_col : str, default="user_id"
        The column holding user ids in both frames.
    item_col : str, default="movie_id"
        The column holding item ids in both frames.

    Returns
    -------
    float
        The MAP@k, in [0, 1].

    Raises
    ------
    ValueError
        If ``relevant`` is empty, a column is missing, ``k`` is not a positive int, an id is
        missing, or a user's list in ``recommended`` repeats a rank or an item or has a rank
        that is not a whole number >= 1 (see the module docstring).

    Notes
    -----
    :class:`keras_rs.metrics.MeanAveragePrecision` divides by ``|R|`` instead; the two agree
    whenever no user has more than ``k`` relevant items.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import map_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1, 1], "rank": [1, 2, 3],
    ...                             "movie_id": [10, 11, 12]})
    >>> relevant = pd.DataFrame({"user_id": [1, 1], "movie_id": [10, 12]})
    >>> round(map_at_k(relevant, recommended, k=3), 4)  # (1/1 + 2/3) / 2
    0.8333
    """
    _, n_relevant, hits = _prepare(relevant, recommended, k, user_col, item_col, "map_at_k")
    # `hits` is in rank order within each user, so the running count is the number of relevant
    # items at ranks <= this one.
    hits_so_far = hits.groupby(user_col, sort=False).cumcount().to_numpy() + 1
    precision_at_hit = hits_so_far / hits[_RANK_COL].to_numpy()
    denominator = np.minimum(hits[user_col].map(n_relevant).to_numpy(dtype=float), k)
    return float((precision_at_hit / denominator).sum() / len(n_relevant))


def coverage_at_k(recommended, *, n_items, k=10, item_col="movie_id"):
    """Coverage@k: the share of the catalogue that appears in at least one top-k list.

    Parameters
    ----------
    recommended : DataFrame
        The recommendation lists in long format, with column ``item_col`` and, optionally,
        ``"rank"`` (1 = best), whole numbers >= 1. Without ``"rank"`` every row is counted, so
        pass lists of length ``k`` at most. Only ranks 1 to ``k`` are used.
    n_items : int
        The size of the catalogue, for example ``len(estimator.items_)``.
    k : int, default=10
        The length of the lists that are scored.
    item_col : str, default="movie_id"
        The column holding item ids.

    Returns
    -------
    float
        The number of distinct items in all top-k lists divided by ``n_items``, in [0, 1].

    Raises
    ------
    ValueError
        If a column is missing, ``k`` or ``n_items`` is not a positive int, an item id is
        missing, a rank is not a whole number >= 1, or the lists hold more distinct items than
        ``n_items``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.metrics import coverage_at_k
    >>> recommended = pd.DataFrame({"user_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2],
    ...                             "movie_id": [10, 11, 10, 12]})
    >>> coverage_at_k(recommended, n_items=6, k=2)  # items 10, 11, 12 out of 6
    0.5
    """
    owner = "coverage_at_k"
    k = _check_positive_int(k, "k", owner)
    n_items = _check_positive_int(n_items, "n_items", owner)
    _check_frame(recommended, "recommended", {item_col: "item_col"}, owner)
    _check_ids_present(recommended, "recommended", [item_col], owner)
    items = recommended[item_col]
    if _RANK_COL in recommended.columns:
        items = items[_rank_values(recommended, owner) <= k]
    n_distinct = items.nunique()
    if n_distinct > n_items:
        raise ValueError(
            f"coverage_at_k: the top-{k} lists hold {n_distinct} distinct items, more than "
            f"n_items={n_items}. Pass the size of the whole catalogue as n_items."
        )
    return float(n_distinct / n_items)


# --------------------------------------------------------------------------------------------
# Beyond accuracy: how alike the items of a list are, how unexpected they are
# --------------------------------------------------------------------------------------------


def intra_list_diversity(recommendations, estimator, *, k=10, features=None):
    """Intra-list diversity@k: the mean pairwise cosine distance between the items of a list.

    For each user's top-``k`` list of at least two items, the mean of ``1 - cos(a, b)`` over
    its pairs of distinct items ``a, b``; then the mean over those lists (Ziegler et al., WWW
    2005). The items are compared by the fitted model's retrieval vectors (those of
    ``recommend(diversity=...)`` and ``similar_items``) or by ``features``.

    Parameters
    ----------
    recommendations : DataFrame
        The output of ``estimator.recommend``: columns ``user_col``, ``item_col`` and,
        optionally, ``"rank"``.
    estimator : MultiTaskRecommender or SeedEnsemble
        The fitted estimator (its column names, items and item vectors; a SeedEnsemble's
        first member's vectors).
    k : int, default=10
        The length of the lists that are scored.
    features : DataFrame or None, default=None
        Numeric item features indexed by item id (for example one-hot genres), used instead
        of the model's vectors; every listed item must have a row.

    Returns
    -------
    float
        In [0, 2]: 0 when every list holds items of one direction, 1 for orthogonal ones.
        NaN when no list holds two items.

    Raises
    ------
    ValueError
        If a listed item is unknown to the model (or missing from ``features``), or a list
        is malformed (see the module's notes).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec import MultiTaskRecommender
    >>> from skrec.metrics import intra_list_diversity
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "movie_id": [10, 20, 10, 30, 20]})
    >>> rec = MultiTaskRecommender(epochs=1, random_state=0).fit(X, [5, 3, 4, 2, 5])
    >>> genres = pd.DataFrame({"drama": [1, 0, 1], "comedy": [0, 1, 1]}, index=[10, 20, 30])
    >>> lists = pd.DataFrame({"user_id": [1, 1], "rank": [1, 2], "movie_id": [10, 20]})
    >>> intra_list_diversity(lists, rec, features=genres)
    1.0
    """
    owner = "intra_list_diversity"
    top = _lists_of(recommendations, estimator, k, owner)
    if features is None:
        vectors = _model_item_vectors(estimator, top[estimator.item_col], owner)
    else:
        vectors = _feature_vectors(features, top[estimator.item_col], owner)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    users = top[estimator.user_col].to_numpy()
    _, group, n = np.unique(users, return_inverse=True, return_counts=True)
    sums = np.zeros((len(n), vectors.shape[1]))
    np.add.at(sums, group, vectors)
    pairs = n * (n - 1)
    listed = pairs > 0
    if not listed.any():
        return float("nan")
    mean_cosine = ((sums**2).sum(axis=1)[listed] - n[listed]) / pairs[listed]
    return float(np.mean(1.0 - mean_cosine))


def novelty(recommendations, estimator, *, k=10):
    """Novelty@k: the mean self-information of the recommended items, ``-log2`` of their popularity.

    An item's popularity is the share of the users of ``fit`` who interacted with it (an item
    no one interacted with counts as one user's); the score is the mean of ``-log2(share)``
    over each user's top-``k`` items, then over users (Zhou et al., PNAS 2010). Higher means
    less popular, less expected items.

    Parameters
    ----------
    recommendations : DataFrame
        The output of ``estimator.recommend``: columns ``user_col``, ``item_col`` and,
        optionally, ``"rank"``.
    estimator : MultiTaskRecommender or SeedEnsemble
        The fitted estimator (its column names, items and the popularity of ``fit``).
    k : int, default=10
        The length of the lists that are scored.

    Returns
    -------
    float
        In bits, at least 0 (an item every user interacted with); NaN for empty lists.

    Raises
    ------
    ValueError
        If a listed item is unknown to the model, or a list is malformed.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec import MultiTaskRecommender
    >>> from skrec.metrics import novelty
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [10, 20, 10, 30]})
    >>> rec = MultiTaskRecommender(epochs=1, random_state=0).fit(X, [5, 3, 4, 2])
    >>> novelty(pd.DataFrame({"user_id": [3], "movie_id": [10]}), rec)  # both users had item 10
    0.0
    """
    owner = "novelty"
    top = _lists_of(recommendations, estimator, k, owner)
    interactions = _fitted_member(estimator)._interactions_
    codes = _item_codes(interactions, top[estimator.item_col], owner)
    n_users = max(len(interactions.users), 1)
    information = -np.log2(np.maximum(interactions.popularity()[codes], 1) / n_users)
    if not len(information):
        return float("nan")
    return float(pd.Series(information).groupby(top[estimator.user_col].to_numpy()).mean().mean())


def _fitted_member(estimator):
    """The fitted MultiTaskRecommender that holds the data of ``fit``: the estimator, or a SeedEnsemble's first member."""
    return estimator.estimators_[0] if hasattr(estimator, "estimators_") else estimator


def _lists_of(recommendations, estimator, k, owner):
    """The top-``k`` rows (user, item, rank) of ``recommendations``, checked as rankings."""
    check_is_fitted(estimator)
    k = _check_positive_int(k, "k", owner)
    cols = {estimator.user_col: "user_col", estimator.item_col: "item_col"}
    _check_frame(recommendations, "recommendations", cols, owner)
    top = _ranked_lists(recommendations, estimator.user_col, estimator.item_col, owner)
    return top[top[_RANK_COL] <= k].reset_index(drop=True)


def _item_codes(interactions, item_ids, owner):
    """The fitted codes of ``item_ids``; ValueError naming the first unknown ones."""
    codes = interactions.items.transform(pd.Index(item_ids))
    if (codes < 0).any():
        unknown = pd.unique(np.asarray(item_ids)[codes < 0])
        raise ValueError(f"{owner}: {len(unknown)} listed item(s) not seen in fit, e.g. {unknown[:5].tolist()}; pass `features` that describe them.")
    return codes


def _model_item_vectors(estimator, item_ids, owner):
    """The model's retrieval vectors of ``item_ids`` (items seen in ``fit``)."""
    from skrec._retrieval import unit_item_vectors  # imports Keras, which `import skrec.metrics` does not

    member = _fitted_member(estimator)
    return unit_item_vectors(member.model_)[_item_codes(member._interactions_, item_ids, owner)]


def _feature_vectors(features, item_ids, owner):
    """Rows of the numeric ``features`` frame (indexed by item id) of ``item_ids``."""
    position = features.index.get_indexer(pd.Index(item_ids))
    if (position < 0).any():
        missing = pd.unique(np.asarray(item_ids)[position < 0])
        raise ValueError(f"{owner}: `features` has no row for {len(missing)} listed item(s), e.g. {missing[:5].tolist()}.")
    return features.to_numpy(dtype=np.float64)[position]


# --------------------------------------------------------------------------------------------
# scikit-learn scorer
# --------------------------------------------------------------------------------------------

_SCORER_METRICS = {
    "coverage": coverage_at_k,
    "hit_rate": hit_rate_at_k,
    "map": map_at_k,
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
}


def make_ranking_scorer(metric="ndcg", *, k=10, threshold=4.0):
    """Make a scikit-learn scorer that rates a fitted recommender by a top-k ranking metric.

    The scorer has the signature ``scorer(estimator, X, y=None) -> float`` (higher is better), so it
    can be passed as ``scoring=`` to :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_validate`, alone or as a value of a multi-metric
    dict. Called on a test fold it:

    1. takes as relevant every (user, item) pair of ``X`` except those rated below
       ``threshold``: with ``y=None`` (implicit feedback) every pair is relevant; otherwise a
       pair is relevant if its rating is at least ``threshold`` or missing (NaN: an
       interaction without a rating);
    2. drops the users that the estimator did not see in ``fit`` (not in ``estimator.users_``),
       with a :class:`~skrec.exceptions.ColdStartWarning` giving their count;
    3. calls ``estimator.recommend(users, k=k, exclude_seen=True)`` once for all the remaining
       users, so items seen in training are never recommended (protocol P2);
    4. returns the metric of those lists against the relevant pairs.

    Parameters
    ----------
    metric : {"ndcg", "recall", "precision", "hit_rate", "map", "coverage"}, default="ndcg"
        The metric, computed by the function of this module with the same name plus ``_at_k``.
        ``"coverage"`` divides by the catalogue size ``len(estimator.items_)``.
    k : int, default=10
        The length of the recommendation lists.
    threshold : float, default=4.0
        The smallest rating that makes a rated test pair relevant. Pairs without a rating are
        relevant whatever the threshold.

    Returns
    -------
    scorer : callable
        A picklable object called as ``scorer(estimator, X, y=None)``. ``X`` is a DataFrame
        with the columns ``estimator.user_col`` and ``estimator.item_col``, or an array whose
        columns 0 and 1 hold user and item ids. ``y`` holds one rating per row of ``X``, NaN
        (or None) for an interaction without one, or is None when no row has a rating. The
        scorer raises ``ValueError`` if ``X`` has no rows, ``y`` does not match ``X`` or holds
        something other than numbers and NaN, no pair is relevant, or no user with a relevant
        pair was seen in ``fit``. It modifies neither ``X`` nor ``y``.

    Raises
    ------
    ValueError
        If ``metric`` is not one of the allowed names, ``k`` is not a positive int, or
        ``threshold`` is not a real number.

    See Also
    --------
    ndcg_at_k : Normalised discounted cumulative gain of each user's top-k list.
    recall_at_k : Share of each user's relevant items found in the top k.
    precision_at_k : Share of each user's top k that is relevant.
    hit_rate_at_k : Share of users with a relevant item in the top k.
    map_at_k : Mean average precision over the top k.
    coverage_at_k : Share of the catalogue that appears in some user's top k.

    Notes
    -----
    A missing rating counts as relevant because, in a fold that mixes explicit ratings with
    implicit interactions (clicks, views, purchases), the interaction itself is the positive
    signal, exactly as it is when ``y`` is None or all NaN. Only an explicit rating below
    ``threshold`` says that the user did not like the item. So one rule covers all three cases
    (rated, unrated, mixed), and for fully rated ``y`` it is the threshold rule alone.

    Examples
    --------
    >>> from skrec.metrics import make_ranking_scorer
    >>> make_ranking_scorer("recall", k=5)
    make_ranking_scorer('recall', k=5, threshold=4.0)

    With a stand-in for a fitted recommender that ranks items 1, 2, 3 for every user:

    >>> import pandas as pd
    >>> class Popular:
    ...     user_col, item_col = "user_id", "movie_id"
    ...     users_, items_ = pd.Index([1, 2]), pd.Index([1, 2, 3])
    ...     def recommend(self, user_ids, k=10, *, exclude_seen=True):
    ...         return pd.DataFrame({"user_id": [u for u in user_ids for _ in range(k)],
    ...                              "rank": list(range(1, k + 1)) * len(user_ids),
    ...                              "movie_id": list(range(1, k + 1)) * len(user_ids)})
    >>> X = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [1, 3, 2]})
    >>> scorer = make_ranking_scorer("recall", k=2)
    >>> scorer(Popular(), X, y=None)  # every pair relevant; user 1: 1/1, user 2: 1/2
    0.75
    >>> scorer(Popular(), X, [5.0, 2.0, None])  # (2, 3) rated 2 is not relevant; (2, 2) is
    1.0

    In a search over the loss weights (not run here)::

        GridSearchCV(MultiTaskRecommender(), {"retrieval_weight": [0.5, 1.0]},
                     scoring={"ndcg": make_ranking_scorer("ndcg"),
                              "rmse": "neg_root_mean_squared_error"},
                     refit="ndcg")
    """
    if not isinstance(metric, str) or metric not in _SCORER_METRICS:
        allowed = ", ".join(repr(name) for name in sorted(_SCORER_METRICS))
        raise ValueError(
            f"The 'metric' parameter of make_ranking_scorer must be a str among "
            f"{{{allowed}}}. Got {metric!r} instead."
        )
    k = _check_positive_int(k, "k", "make_ranking_scorer")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(
            "The 'threshold' parameter of make_ranking_scorer must be a real number. "
            f"Got {threshold!r} instead."
        )
    return _RankingScorer(metric, k, float(threshold))


class _RankingScorer:
    """The callable that :func:`make_ranking_scorer` returns; see there.

    A module-level class rather than a closure, so that joblib can pickle it for parallel
    searches.
    """

    def __init__(self, metric, k, threshold):
        self.metric = metric
        self.k = k
        self.threshold = threshold

    def __repr__(self):
        return f"make_ranking_scorer({self.metric!r}, k={self.k!r}, threshold={self.threshold!r})"

    def __call__(self, estimator, X, y=None):
        user_col, item_col = estimator.user_col, estimator.item_col
        relevant = self._relevant_pairs(X, y, user_col, item_col)
        relevant = self._drop_unknown_users(relevant, estimator.users_, user_col)
        users = relevant[user_col].drop_duplicates().to_numpy()
        recommended = estimator.recommend(users, k=self.k, exclude_seen=True)
        if self.metric == "coverage":
            return coverage_at_k(
                recommended, n_items=len(estimator.items_), k=self.k, item_col=item_col
            )
        metric = _SCORER_METRICS[self.metric]
        return metric(relevant, recommended, k=self.k, user_col=user_col, item_col=item_col)

    def _relevant_pairs(self, X, y, user_col, item_col):
        """The pairs of ``X`` that count as relevant (see `_relevant_rows`), as a frame."""
        users, items = self._pairs(X, user_col, item_col)
        if len(users) == 0:
            raise ValueError(f"{self!r}: X has no rows, so there are no users to evaluate.")
        keep = self._relevant_rows(y, len(users))
        # `infer_objects` turns the object columns of a mixed array back into ints or strings,
        # so that they merge with the id columns of `recommend`'s output.
        relevant = pd.DataFrame({user_col: users[keep], item_col: items[keep]}).infer_objects()
        if len(relevant) == 0:
            raise ValueError(
                f"{self!r}: no rating in y is >= {self.threshold}, so there are no users to "
                "evaluate. Lower the threshold or use a larger test fold."
            )
        return relevant

    def _pairs(self, X, user_col, item_col):
        """The user and item ids of ``X``, as two arrays."""
        if isinstance(X, pd.DataFrame):
            _check_frame(X, "X", {user_col: "user_col", item_col: "item_col"}, repr(self))
            return X[user_col].to_numpy(), X[item_col].to_numpy()
        array = np.asarray(X)
        if array.ndim != 2 or array.shape[1] != 2:
            raise ValueError(
                f"{self!r} expects X to be a DataFrame with columns {user_col!r} and "
                f"{item_col!r}, or an array of shape (n_pairs, 2) holding user and item ids. "
                f"Got an array of shape {array.shape} instead."
            )
        return array[:, 0], array[:, 1]

    def _relevant_rows(self, y, n_rows):
        """Which rows are relevant: all without ``y``, else those unrated or rated >= threshold."""
        if y is None:
            return np.ones(n_rows, dtype=bool)
        ratings = self._ratings(y)
        if len(ratings) != n_rows:
            raise ValueError(f"{self!r}: X has {n_rows} rows but y has {len(ratings)} ratings.")
        return np.isnan(ratings) | (ratings >= self.threshold)

    def _ratings(self, y):
        """``y`` as a flat float array, missing ratings (NaN, None, pd.NA) as NaN."""
        given = pd.Series(np.asarray(y, dtype=object).reshape(-1))
        ratings = pd.to_numeric(given, errors="coerce")
        bad = (ratings.isna() & given.notna()).to_numpy()
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(
                f"{self!r}: y must hold numeric ratings, or NaN for an interaction without one; "
                f"{int(bad.sum())} value(s) are not (first: {_value_at(given, first)!r} at "
                f"position {first})."
            )
        return ratings.to_numpy(dtype=float, na_value=np.nan)

    def _drop_unknown_users(self, relevant, known_users, user_col):
        known = relevant[user_col].isin(known_users).to_numpy()
        if known.all():
            return relevant
        n_unknown = relevant.loc[~known, user_col].nunique()
        n_users = relevant[user_col].nunique()
        warn(
            f"{n_unknown} of {n_users} users with relevant items were not seen in fit and are "
            f"left out of the {self.metric}@{self.k} score.",
            ColdStartWarning,
        )
        if n_unknown == n_users:
            raise ValueError(
                f"{self!r}: none of the {n_users} users with relevant items was seen in fit, "
                "so there are no users to evaluate."
            )
        return relevant[known]
