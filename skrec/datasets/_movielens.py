"""Load the MovieLens releases (100k, 1M, 20M, 25M, latest-small) as pandas DataFrames of one schema.

Source: GroupLens Research, https://grouplens.org/datasets/movielens/. The archives may not be
redistributed, so each is downloaded on first use (see :mod:`skrec.datasets._base`), kept
extracted under the data folder, and parsed on every call (see
:mod:`skrec.datasets._movielens_files`). MovieLens 100k also has canonical train/test folds.

Reference: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19.
https://doi.org/10.1145/2827872
"""

import logging
from collections import namedtuple
from importlib import resources
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import (
    MOVIELENS_1M,
    MOVIELENS_20M,
    MOVIELENS_25M,
    MOVIELENS_100K,
    MOVIELENS_LATEST_SMALL,
    _fetch_folder,
    get_data_home,
)
from ._movielens_files import read_1m, read_100k, read_csv_release, read_ratings_100k

__all__ = ["fetch_movielens", "fetch_movielens_fold"]

logger = logging.getLogger(__name__)

_Variant = namedtuple("_Variant", ["remote", "folder", "descr", "marker", "files", "read"])
_Variant.__doc__ = """A MovieLens release: its archive, the folder it extracts to (under data_home),
its DESCR file, a file whose presence means the folder is complete, the files named in error
messages, and the function parsing the folder into (ratings, users, movies)."""

_CSV_FILES = "ratings.csv, movies.csv and the other files"
_VARIANTS = {
    "100k": _Variant(MOVIELENS_100K, "ml-100k", "movielens_100k.rst", "u.data",
                     "u.data, u.item, u.user and the other files", read_100k),
    "1m": _Variant(MOVIELENS_1M, "ml-1m", "movielens_1m.rst", "ratings.dat",
                   "ratings.dat, users.dat and movies.dat", read_1m),
    "20m": _Variant(MOVIELENS_20M, "ml-20m", "movielens_20m.rst", "ratings.csv", _CSV_FILES, read_csv_release),
    "25m": _Variant(MOVIELENS_25M, "ml-25m", "movielens_25m.rst", "ratings.csv", _CSV_FILES, read_csv_release),
    "latest-small": _Variant(MOVIELENS_LATEST_SMALL, "ml-latest-small", "movielens_latest_small.rst",
                             "ratings.csv", _CSV_FILES, read_csv_release),
}  # fmt: skip

# u1..u5 are the five disjoint 80/20 splits of u.data (each rating is in exactly one uN.test);
# ua/ub hold out exactly 10 ratings per user. All come with the 100k archive (made by its mku.sh).
_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


def _check_str_option(func, name, value, options):
    if not isinstance(value, str) or value not in options:
        allowed = "{" + ", ".join(repr(o) for o in options) + "}"
        raise ValueError(f"The {name!r} parameter of {func} must be a str among {allowed}. Got {value!r} instead.")


def _check_download_params(func, download_if_missing, n_retries, delay):
    if not isinstance(download_if_missing, (bool, np.bool_)):
        raise TypeError(
            f"The 'download_if_missing' parameter of {func} must be a bool. Got {download_if_missing!r} instead."
        )
    for name, value, kind in [("n_retries", n_retries, Integral), ("delay", delay, Real)]:
        if not isinstance(value, kind) or isinstance(value, bool) or not value >= 0:
            what = "an int" if kind is Integral else "a float"
            raise ValueError(
                f"The {name!r} parameter of {func} must be {what} in the range [0, inf). Got {value!r} instead."
            )


def _check_fold_variant(variant):
    if isinstance(variant, str) and variant in _VARIANTS and variant != "100k":
        raise ValueError(
            f"MovieLens {variant} has no canonical folds: only the 100k archive ships them (uN.base, uN.test). "
            f"Split fetch_movielens({variant!r}).ratings with skrec.model_selection.GlobalTimeSplit, "
            f"LeaveLastNOut or PerUserKFold instead."
        )
    _check_str_option("fetch_movielens_fold", "variant", variant, ("100k",))


def _movielens_folder(variant, data_home, download_if_missing, n_retries, delay):
    """Return the extracted folder of ``variant``, downloading and extracting it if needed."""
    spec = _VARIANTS[variant]
    data_home = get_data_home(data_home)
    folder = Path(data_home) / spec.folder
    if (folder / spec.marker).is_file():
        logger.debug("Reading MovieLens %s from %s", variant, folder)
        return folder
    help_text = (
        f"Download {spec.remote.url} and extract it into {data_home}, so that the folder {folder} "
        f"holds {spec.files}, then call again."
    )
    if not download_if_missing:
        raise OSError(f"MovieLens {variant} data not found and download_if_missing is False. {help_text}")
    return _fetch_folder(
        spec.remote, data_home, spec.folder, marker=spec.marker, n_retries=n_retries, delay=delay, help_text=help_text
    )


def _read_descr(filename):
    return (resources.files(__package__) / "descr" / filename).read_text(encoding="utf-8")


def fetch_movielens(variant="100k", *, data_home=None, download_if_missing=True, n_retries=3, delay=1.0):
    """Load a MovieLens release's ratings, users and movies as pandas DataFrames.

    ====================  ==========  =======  ======  ==========  =========
    variant               ratings     users    movies  stars       period
    ====================  ==========  =======  ======  ==========  =========
    ``"100k"``            100,000     943      1,682   1 to 5      1997-1998
    ``"1m"``              1,000,209   6,040    3,883   1 to 5      2000-2003
    ``"20m"``             20,000,263  138,493  27,278  0.5 to 5.0  1995-2015
    ``"25m"``             25,000,095  162,541  62,423  0.5 to 5.0  1995-2019
    ``"latest-small"``    100,836     610      9,742   0.5 to 5.0  1996-2018
    ====================  ==========  =======  ======  ==========  =========

    The counts are those of the GroupLens READMEs ("movies" counts the movie file's rows; not
    all of them are rated). Every user rated at least 20 movies. The data is read from
    ``data_home/ml-<variant>/``, an extracted copy of the GroupLens archive. If that folder is
    missing, the archive is downloaded (checksum verified), extracted there and deleted. The
    data may not be redistributed: see the licence in ``DESCR``.

    Parameters
    ----------
    variant : {"100k", "1m", "20m", "25m", "latest-small"}, default="100k"
        Which MovieLens release to load. ``"latest-small"`` is the September 2018 release of
        GroupLens' small development set (the pinned checksum rejects any other).
    data_home : str or path-like, default=None
        Folder that holds (or will hold) the extracted ``ml-<variant>/`` folder. ``None`` uses
        :func:`get_data_home`: ``$SKREC_DATA``, else ``~/skrec_data``.
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading when the data is not in
        ``data_home``.
    n_retries : int, default=3
        How many times to retry the download after a network error.
    delay : float, default=1.0
        Seconds to wait between retries.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        ratings : pandas.DataFrame of shape (n_ratings, 4)
            One row per rating, in file order, with a default ``RangeIndex``: ``user_id``,
            ``movie_id``, ``rating`` and ``timestamp`` (unix seconds, UTC;
            ``pd.to_datetime(t, unit="s")`` converts). The dtypes depend on the release:

            - ``"100k"``, ``"1m"``: all int64 (whole stars 1 to 5). 100k's ``u.data`` is in
              random order (protocol P3's seeded shuffle relies on that order); 1M's
              ``ratings.dat`` is grouped by user.
            - ``"20m"``, ``"25m"``, ``"latest-small"``: ``user_id`` and ``movie_id`` int32,
              ``rating`` float32 (half stars 0.5 to 5.0), ``timestamp`` int64, sorted by user
              then movie. 25M ratings take 500 MB.
        users : pandas.DataFrame of shape (n_users, 5) or None
            ``None`` for ``"20m"``, ``"25m"`` and ``"latest-small"``, which have no user file.
            Otherwise ``user_id`` (int64), ``age`` (int64), ``gender`` (category: ``"F"``,
            ``"M"``), ``occupation`` (category) and ``zip_code`` (str, as written; 100k has
            Canadian postcodes such as ``"T8H1N"``):

            - ``"100k"``: ``age`` in years; ``occupation`` has the 21 names of
              ``u.occupation`` (``"administrator"``, ..., ``"writer"``).
            - ``"1m"``: ``age`` is the code of an age band, its lower bound: 1 (under 18),
              18 (18-24), 25 (25-34), 35 (35-44), 45 (45-49), 50 (50-55), 56 (56+);
              ``occupation`` has the 21 names of the ml-1m README, in code order 0 to 20
              (``"other"``, ``"academic/educator"``, ..., ``"writer"``).
        movies : pandas.DataFrame of shape (n_movies, 4) or (1682, 6) for 100k
            The same first four columns for every release:

            - ``movie_id``: int64 (``"100k"``, ``"1m"``) or int32 (the others), the dtype of
              ``ratings["movie_id"]``;
            - ``title`` (str): as in the file, decoded from latin-1 (100k, 1M) or UTF-8
              (the others), usually ending with the release year as in ``"Toy Story (1995)"``;
            - ``year`` (Int64): the year in the title's last ``(YYYY)`` or ``(YYYY-YYYY)``
              group, ``<NA>`` where the title has none (100k's ``"unknown"`` movie, a
              few titles of 20M/25M/latest);
            - ``genres`` (str): the movie's genres joined by ``"|"``, e.g.
              ``"Animation|Children's|Comedy"``. ``movies["genres"].str.get_dummies("|")``
              gives one 0/1 column per genre. A movie without genres has the release's own
              marker, kept as a pseudo-genre: ``"unknown"`` in 100k (a genre of
              ``u.genre``), ``"(no genres listed)"`` in 20M/25M/latest; 1M has none. The
              genre names differ slightly across releases (1M: ``"Children's"``; 20M and
              later: ``"Children"``, and also ``"IMAX"``).

            100k has two more columns: ``release_date`` (datetime64[ns]; NaT for the one movie
            without a date) and ``imdb_url`` (str, may be missing). Its always empty video
            release date is dropped.
        DESCR : str
            Description of the release: contents, columns, licence and citation.

    Raises
    ------
    ValueError
        If ``variant`` is not one of the names above, or ``n_retries`` or ``delay`` is not a
        number >= 0. Also if a data file is corrupt: the message names the file (full path),
        its first bad line and what was expected there, as in ``.../ml-100k/u.data line 17:
        expected 4 tab-separated fields user_id, movie_id, rating, timestamp; got 3``; or a
        byte that is not UTF-8 in a 20M, 25M or latest file (chained from the
        ``UnicodeDecodeError``); or a file holds no rows (no ratings, users or movies).
    TypeError
        If ``download_if_missing`` is not a bool, or ``data_home`` not a path or None.
    OSError
        If the data is missing and ``download_if_missing`` is False, or the download fails,
        is truncated or has the wrong checksum (the message says which URL to download by hand
        and where to extract it), or a CSV file's header or an occupation of the users is not
        the release's (the message names the file).
    FileNotFoundError
        If the folder exists but one of the release's files is missing from it.

    See Also
    --------
    fetch_movielens_fold : MovieLens 100k's canonical train/test splits ``u1`` ... ``ub``.
    skrec.model_selection.GlobalTimeSplit : Train on the past, test on the future.
    get_data_home : Where the data is kept.

    Notes
    -----
    The ids are the original ones: they have gaps in all releases but 100k, so map them (the
    estimator does) rather than using them as array indices. The ``str`` columns have pandas'
    default string dtype (``str`` in pandas 3, ``object`` before).

    Size: the 20M and 25M archives extract to about 0.9 GB and 1.2 GB on disk (tags, links
    and the tag genome are kept beside the ratings, for other uses). Parsing MovieLens 25M's
    ratings peaks at about 1.3 GB of memory for a 0.5 GB result, and takes a few seconds.

    There is no progress bar: :func:`sklearn.datasets.fetch_file`, which does the download,
    has no progress or verbosity option in scikit-learn 1.9 (it calls ``urlretrieve`` without
    a report hook). The start of each download is logged at INFO level on the
    ``skrec.datasets`` logger.

    Please cite F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History
    and Context. ACM TiiS 5, 4, Article 19. https://doi.org/10.1145/2827872

    Examples
    --------
    >>> from skrec.datasets import fetch_movielens
    >>> ml = fetch_movielens()  # doctest: +SKIP
    >>> ml.ratings.shape, ml.users.shape, ml.movies.shape  # doctest: +SKIP
    ((100000, 4), (943, 5), (1682, 6))
    >>> ml.ratings.head(2)  # doctest: +SKIP
       user_id  movie_id  rating  timestamp
    0      196       242       3  881250949
    1      186       302       3  891717742
    >>> ml.movies.loc[0, ["title", "year", "genres"]].tolist()  # doctest: +SKIP
    ['Toy Story (1995)', 1995, "Animation|Children's|Comedy"]
    >>> small = fetch_movielens("latest-small")  # doctest: +SKIP
    >>> small.ratings.dtypes.astype(str).tolist(), small.users  # doctest: +SKIP
    (['int32', 'int32', 'float32', 'int64'], None)
    """
    _check_str_option("fetch_movielens", "variant", variant, tuple(_VARIANTS))
    _check_download_params("fetch_movielens", download_if_missing, n_retries, delay)
    folder = _movielens_folder(variant, data_home, download_if_missing, n_retries, delay)
    ratings, users, movies = _VARIANTS[variant].read(folder)
    return Bunch(ratings=ratings, users=users, movies=movies, DESCR=_read_descr(_VARIANTS[variant].descr))


def fetch_movielens_fold(fold, *, variant="100k", data_home=None, download_if_missing=True, n_retries=3, delay=1.0):
    """Load one of MovieLens 100k's canonical train/test splits.

    =======================   ==========================================================
    ``"u1"`` ... ``"u5"``     80,000 train / 20,000 test ratings; the five test sets are
                              disjoint and together hold all 100,000 ratings (5-fold CV)
    ``"ua"``, ``"ub"``        90,570 train / 9,430 test ratings; exactly 10 test ratings
                              per user
    =======================   ==========================================================

    These are the files ``uN.base`` and ``uN.test`` shipped in the GroupLens archive, so results
    compare with published ones. The data is found or downloaded as in :func:`fetch_movielens`.
    The other releases ship no folds.

    Parameters
    ----------
    fold : {"u1", "u2", "u3", "u4", "u5", "ua", "ub"}
        Which split to load.
    variant : {"100k"}, default="100k"
        The release. Only MovieLens 100k has canonical folds; naming another release raises a
        ``ValueError`` that suggests the splitters of :mod:`skrec.model_selection`.
    data_home : str or path-like, default=None
        Folder that holds (or will hold) the extracted ``ml-100k/`` folder. ``None`` uses
        :func:`get_data_home`: ``$SKREC_DATA``, else ``~/skrec_data``.
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading when the data is not in
        ``data_home``.
    n_retries : int, default=3
        How many times to retry the download after a network error.
    delay : float, default=1.0
        Seconds to wait between retries.

    Returns
    -------
    train : pandas.DataFrame
        The ratings of ``<fold>.base``, with the columns and dtypes of
        ``fetch_movielens().ratings``: ``user_id``, ``movie_id``, ``rating``, ``timestamp``
        (all int64), in file order, with a default ``RangeIndex``.
    test : pandas.DataFrame
        The ratings of ``<fold>.test``, in the same format.

    Raises
    ------
    ValueError
        If ``fold`` is not one of the names above, ``variant`` is not ``"100k"``, or as in
        :func:`fetch_movielens`: a fold file that is corrupt or holds no ratings is named
        with its first bad line and what was expected.
    TypeError
        As in :func:`fetch_movielens`.
    OSError
        As in :func:`fetch_movielens`, or (``FileNotFoundError``) if the fold's files are
        missing from the folder.

    See Also
    --------
    fetch_movielens : All ratings, with the users and movies.

    Examples
    --------
    Protocol P1 trains on each of ``u1`` ... ``u5`` and tests on the matching test set:

    >>> from skrec.datasets import fetch_movielens_fold
    >>> for fold in ["u1", "u2", "u3", "u4", "u5"]:  # doctest: +SKIP
    ...     train, test = fetch_movielens_fold(fold)
    ...     print(fold, len(train), len(test))
    u1 80000 20000
    u2 80000 20000
    u3 80000 20000
    u4 80000 20000
    u5 80000 20000
    """
    _check_fold_variant(variant)
    _check_str_option("fetch_movielens_fold", "fold", fold, _FOLDS)
    _check_download_params("fetch_movielens_fold", download_if_missing, n_retries, delay)
    folder = _movielens_folder("100k", data_home, download_if_missing, n_retries, delay)
    return read_ratings_100k(folder / f"{fold}.base"), read_ratings_100k(folder / f"{fold}.test")
