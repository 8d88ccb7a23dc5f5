"""Load MovieLens 100k (ratings, users, movies and the canonical folds) as pandas DataFrames.

Source: GroupLens Research, https://grouplens.org/datasets/movielens/100k/. The archive may not
be redistributed, so it is downloaded on first use (see :mod:`skrec.datasets._base`), kept
extracted under the data folder, and parsed on every call (parsing takes well under a second).

Reference: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19.
https://doi.org/10.1145/2827872
"""

import logging
from importlib import resources
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import MOVIELENS_100K, _fetch_folder, get_data_home

__all__ = ["fetch_movielens", "fetch_movielens_fold"]

logger = logging.getLogger(__name__)

# variant -> (remote archive, folder inside the archive and under data_home, DESCR file).
_VARIANTS = {"100k": (MOVIELENS_100K, "ml-100k", "movielens_100k.rst")}

# u1..u5 are the five disjoint 80/20 splits of u.data (each rating is in exactly one uN.test);
# ua/ub hold out exactly 10 ratings per user. All come with the archive (made by its mku.sh).
_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

_RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
_USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
_MOVIE_COLUMNS = ["movie_id", "title", "release_date", "video_release_date", "imdb_url"]

# Release dates look like "01-Jan-1995". Month names are mapped by hand because strptime's %b
# follows the process locale.
_MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
)}


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


def _movielens_folder(variant, data_home, download_if_missing, n_retries, delay):
    """Return the extracted folder of ``variant``, downloading and extracting it if needed."""
    remote, folder_name, _ = _VARIANTS[variant]
    data_home = get_data_home(data_home)
    folder = Path(data_home) / folder_name
    if (folder / "u.data").is_file():
        logger.debug("Reading MovieLens %s from %s", variant, folder)
        return folder
    help_text = (
        f"Download {remote.url} and extract it into {data_home}, so that the folder {folder} "
        f"holds u.data, u.item, u.user and the other files, then call again."
    )
    if not download_if_missing:
        raise OSError(f"MovieLens {variant} data not found and download_if_missing is False. {help_text}")
    return _fetch_folder(
        remote, data_home, folder_name, marker="u.data", n_retries=n_retries, delay=delay, help_text=help_text
    )


def _read_ratings(path):
    """Parse a tab separated ratings file (u.data, uN.base, uN.test) into int64 columns."""
    return pd.read_csv(path, sep="\t", header=None, names=_RATING_COLUMNS, dtype="int64")


def _read_lines(path, encoding="latin-1"):
    return [line for line in Path(path).read_text(encoding=encoding).splitlines() if line.strip()]


def _read_users(folder):
    occupations = _read_lines(folder / "u.occupation")
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=_USER_COLUMNS,
        dtype={"user_id": "int64", "age": "int64", "gender": str, "occupation": str, "zip_code": str},
        keep_default_na=False,
        encoding="latin-1",
    )
    unknown = sorted(set(users["occupation"]) - set(occupations))
    if unknown:
        raise OSError(f"{folder / 'u.user'} has occupations missing from u.occupation: {unknown[:5]}.")
    users["gender"] = users["gender"].astype("category")
    users["occupation"] = users["occupation"].astype(pd.CategoricalDtype(occupations))
    return users


def _parse_release_dates(values):
    numeric = values.str.replace(r"-([A-Za-z]{3})-", lambda m: f"-{_MONTHS[m.group(1).title()]}-", regex=True)
    return pd.to_datetime(numeric, format="%d-%m-%Y").astype("datetime64[ns]")


def _read_movies(folder):
    # u.genre lists "name|index"; its order is the order of the 0/1 flags at the end of u.item.
    genre_pairs = [line.rsplit("|", 1) for line in _read_lines(folder / "u.genre")]
    genre_names = [name for name, _ in sorted(genre_pairs, key=lambda pair: int(pair[1]))]
    raw = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        names=_MOVIE_COLUMNS + genre_names,
        dtype={"movie_id": "int64", "title": str, "release_date": str, "video_release_date": str, "imdb_url": str}
        | {name: "int8" for name in genre_names},
        keep_default_na=False,
        na_values={"release_date": [""], "video_release_date": [""], "imdb_url": [""]},
        encoding="latin-1",
    )
    flags = raw[genre_names].to_numpy(dtype=bool)
    names = np.asarray(genre_names, dtype=object)
    movies = raw[["movie_id", "title"]].copy()
    movies["release_date"] = _parse_release_dates(raw["release_date"])
    movies["imdb_url"] = raw["imdb_url"]
    movies["genres"] = pd.array(["|".join(names[row]) for row in flags], dtype=raw["title"].dtype)
    return movies


def _read_descr(filename):
    return (resources.files(__package__) / "descr" / filename).read_text(encoding="utf-8")


def fetch_movielens(variant="100k", *, data_home=None, download_if_missing=True, n_retries=3, delay=1.0):
    """Load the MovieLens ratings, users and movies as pandas DataFrames.

    =================   ==============================
    Ratings             100,000 (integers 1 to 5)
    Users               943 (each rated at least 20 movies)
    Movies              1,682
    Period              September 1997 to April 1998
    =================   ==============================

    The data is read from ``data_home/ml-100k/``, an extracted copy of the GroupLens archive. If
    that folder is missing, the archive is downloaded (checksum verified), extracted there and
    deleted. The data may not be redistributed: see the licence in ``DESCR``.

    Parameters
    ----------
    variant : {"100k"}, default="100k"
        Which MovieLens release to load. Only MovieLens 100k is supported.
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
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        ratings : pandas.DataFrame of shape (100000, 4)
            One row per rating, in the order of ``u.data`` (which is random; protocol P3's
            seeded shuffle relies on that order), with a default ``RangeIndex``.
            ``user_id`` (int64), ``movie_id`` (int64), ``rating`` (int64, 1 to 5) and
            ``timestamp`` (int64, unix seconds, UTC; ``pd.to_datetime(t, unit="s")`` converts).
        users : pandas.DataFrame of shape (943, 5)
            ``user_id`` (int64), ``age`` (int64), ``gender`` (category: ``"F"``, ``"M"``),
            ``occupation`` (category with the 21 occupations of ``u.occupation``) and
            ``zip_code`` (str; some are Canadian postcodes such as ``"T8H1N"``).
        movies : pandas.DataFrame of shape (1682, 5)
            ``movie_id`` (int64), ``title`` (str, decoded from latin-1), ``release_date``
            (datetime64[ns]; NaT for the one movie without a date), ``imdb_url`` (str, may be
            missing) and ``genres`` (str): the movie's genres joined by ``"|"`` in the order of
            ``u.genre``, e.g. ``"Animation|Children's|Comedy"``, as in later MovieLens
            releases. ``movies["genres"].str.get_dummies("|")`` gives one 0/1 column per genre.
            The always empty video release date of ``u.item`` is dropped.
        DESCR : str
            Description of the data set: contents, columns, licence and citation.

    Raises
    ------
    ValueError
        If ``variant`` is not ``"100k"``, or ``n_retries`` or ``delay`` is not a number >= 0.
    TypeError
        If ``download_if_missing`` is not a bool, or ``data_home`` not a path or None.
    OSError
        If the data is missing and ``download_if_missing`` is False, or the download fails,
        is truncated or has the wrong checksum. The message says which URL to download by hand
        and where to extract it.

    See Also
    --------
    fetch_movielens_fold : The canonical train/test splits ``u1`` ... ``u5``, ``ua``, ``ub``.
    get_data_home : Where the data is kept.

    Notes
    -----
    The ids are the original ones: users ``1..943`` and movies ``1..1682``, without gaps. The
    ``str`` columns have pandas' default string dtype (``str`` in pandas 3, ``object`` before).

    Please cite F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History
    and Context. ACM TiiS 5, 4, Article 19. https://doi.org/10.1145/2827872

    Examples
    --------
    >>> from skrec.datasets import fetch_movielens
    >>> ml = fetch_movielens()  # doctest: +SKIP
    >>> ml.ratings.shape, ml.users.shape, ml.movies.shape  # doctest: +SKIP
    ((100000, 4), (943, 5), (1682, 5))
    >>> ml.ratings.head(2)  # doctest: +SKIP
       user_id  movie_id  rating  timestamp
    0      196       242       3  881250949
    1      186       302       3  891717742
    >>> ml.movies.loc[0, ["title", "genres"]].tolist()  # doctest: +SKIP
    ['Toy Story (1995)', "Animation|Children's|Comedy"]
    """
    _check_str_option("fetch_movielens", "variant", variant, tuple(_VARIANTS))
    _check_download_params("fetch_movielens", download_if_missing, n_retries, delay)
    folder = _movielens_folder(variant, data_home, download_if_missing, n_retries, delay)
    return Bunch(
        ratings=_read_ratings(folder / "u.data"),
        users=_read_users(folder),
        movies=_read_movies(folder),
        DESCR=_read_descr(_VARIANTS[variant][2]),
    )


def fetch_movielens_fold(fold, *, data_home=None, download_if_missing=True, n_retries=3, delay=1.0):
    """Load one of MovieLens 100k's canonical train/test splits.

    =======================   ==========================================================
    ``"u1"`` ... ``"u5"``     80,000 train / 20,000 test ratings; the five test sets are
                              disjoint and together hold all 100,000 ratings (5-fold CV)
    ``"ua"``, ``"ub"``        90,570 train / 9,430 test ratings; exactly 10 test ratings
                              per user
    =======================   ==========================================================

    These are the files ``uN.base`` and ``uN.test`` shipped in the GroupLens archive, so results
    compare with published ones. The data is found or downloaded as in :func:`fetch_movielens`.

    Parameters
    ----------
    fold : {"u1", "u2", "u3", "u4", "u5", "ua", "ub"}
        Which split to load.
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
        If ``fold`` is not one of the names above, or as in :func:`fetch_movielens`.
    TypeError
        As in :func:`fetch_movielens`.
    OSError
        As in :func:`fetch_movielens`, or if the fold's files are missing from the folder.

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
    _check_str_option("fetch_movielens_fold", "fold", fold, _FOLDS)
    _check_download_params("fetch_movielens_fold", download_if_missing, n_retries, delay)
    folder = _movielens_folder("100k", data_home, download_if_missing, n_retries, delay)
    return _read_ratings(folder / f"{fold}.base"), _read_ratings(folder / f"{fold}.test")
