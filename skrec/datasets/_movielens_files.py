"""Parse the files of each MovieLens release into DataFrames with one schema across releases.

Three file layouts exist. MovieLens 100k has tab and ``|`` separated files (``u.data``,
``u.user``, ``u.item``, ...); MovieLens 1M has ``::`` separated ``.dat`` files; MovieLens 20M,
25M and the "latest" sets have CSV files with a header. Each ``read_*`` function here takes the
extracted folder and returns ``(ratings, users, movies)``, ``users`` being ``None`` where the
release has no user file. The columns they share are described in
:func:`skrec.datasets.fetch_movielens`.

Rating files are parsed by pandas' C parser with typed columns, never row by row in Python, so
MovieLens 25M's 25 million ratings take 500 MB as a DataFrame (int32 ids, float32 ratings, int64
timestamps).
"""

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_100k", "read_1m", "read_csv_release"]

RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
MOVIE_COLUMNS = ["movie_id", "title", "year", "genres"]

_ITEM_COLUMNS_100K = ["movie_id", "title", "release_date", "video_release_date", "imdb_url"]

# Release dates look like "01-Jan-1995". Month names are mapped by hand because strptime's %b
# follows the process locale.
_MONTHS = {
    m: f"{i:02d}"
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}

# The occupation codes 0..20 of MovieLens 1M's users.dat, as listed in the ml-1m README.
OCCUPATIONS_1M = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
]  # fmt: skip

# The last "(YYYY...)" of a title: "Toy Story (1995)", "Land Before Time III (1995) (V)",
# "Fawlty Towers (1975-1979)". Greedy ".*" makes it the last such group.
_YEAR = r".*\((\d{4})[^()]*\)"

# The header line of the CSV files of MovieLens 20M, 25M and latest, and the names skrec gives.
_CSV_RATINGS = {"userId": "user_id", "movieId": "movie_id", "rating": "rating", "timestamp": "timestamp"}
_CSV_MOVIES = {"movieId": "movie_id", "title": "title", "genres": "genres"}


# --------------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------------


def _with_year(movies):
    """Return ``movies`` with ``year`` (Int64, <NA> if the title has none) inserted after ``title``."""
    year = pd.to_numeric(movies["title"].str.extract(_YEAR, expand=False)).astype("Int64")
    movies = movies.copy()
    movies.insert(movies.columns.get_loc("title") + 1, "year", year)
    return movies


def _read_lines(path, encoding="latin-1"):
    return [line for line in Path(path).read_text(encoding=encoding).splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------
# MovieLens 100k
# --------------------------------------------------------------------------------------------


def read_ratings_100k(path):
    """Parse a tab separated ratings file (u.data, uN.base, uN.test) into int64 columns."""
    return pd.read_csv(path, sep="\t", header=None, names=RATING_COLUMNS, dtype="int64")


def _read_users_100k(folder):
    occupations = _read_lines(folder / "u.occupation")
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=USER_COLUMNS,
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


def _genres_from_flags(raw, genre_names):
    """Join the names of the 0/1 genre flags set on each row with "|"."""
    flags = raw[genre_names].to_numpy(dtype=bool)
    names = np.asarray(genre_names, dtype=object)
    return pd.array(["|".join(names[row]) for row in flags], dtype=raw["title"].dtype)


def _read_movies_100k(folder):
    # u.genre lists "name|index"; its order is the order of the 0/1 flags at the end of u.item.
    genre_pairs = [line.rsplit("|", 1) for line in _read_lines(folder / "u.genre")]
    genre_names = [name for name, _ in sorted(genre_pairs, key=lambda pair: int(pair[1]))]
    raw = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        names=_ITEM_COLUMNS_100K + genre_names,
        dtype={"movie_id": "int64", "title": str, "release_date": str, "video_release_date": str, "imdb_url": str}
        | {name: "int8" for name in genre_names},
        keep_default_na=False,
        na_values={"release_date": [""], "video_release_date": [""], "imdb_url": [""]},
        encoding="latin-1",
    )
    movies = raw[["movie_id", "title"]].assign(genres=_genres_from_flags(raw, genre_names))
    movies["release_date"] = _parse_release_dates(raw["release_date"])
    movies["imdb_url"] = raw["imdb_url"]
    return _with_year(movies)


def read_100k(folder):
    """Read ``ml-100k/``: ``u.data``, ``u.user`` (with ``u.occupation``), ``u.item`` (with ``u.genre``)."""
    folder = Path(folder)
    return read_ratings_100k(folder / "u.data"), _read_users_100k(folder), _read_movies_100k(folder)


# --------------------------------------------------------------------------------------------
# MovieLens 1M
# --------------------------------------------------------------------------------------------


def _read_dat(path, names, dtype):
    """Parse a latin-1, ``::`` separated MovieLens 1M file with pandas' C parser.

    The C parser takes one-character separators only (a longer one falls back to the slow
    Python parser), so ``::`` becomes a tab first: no field of these files holds a tab. Quotes
    in titles are plain characters (``QUOTE_NONE``).
    """
    text = Path(path).read_bytes().decode("latin-1").replace("::", "\t")
    return pd.read_csv(
        io.StringIO(text),
        sep="\t",
        header=None,
        names=names,
        dtype=dtype,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
    )


def _read_users_1m(path):
    dtype = {"user_id": "int64", "gender": str, "age": "int64", "occupation": "int64", "zip_code": str}
    users = _read_dat(path, ["user_id", "gender", "age", "occupation", "zip_code"], dtype)
    codes = users["occupation"]
    if not codes.between(0, len(OCCUPATIONS_1M) - 1).all():
        bad = sorted(set(codes[~codes.between(0, len(OCCUPATIONS_1M) - 1)]))
        raise OSError(f"{path} has occupation codes outside 0..{len(OCCUPATIONS_1M) - 1}: {bad[:5]}.")
    users["gender"] = users["gender"].astype("category")
    users["occupation"] = pd.Categorical.from_codes(codes.to_numpy(), categories=OCCUPATIONS_1M)
    return users[USER_COLUMNS]  # 100k's column order


def read_1m(folder):
    """Read ``ml-1m/``: ``ratings.dat``, ``users.dat`` and ``movies.dat``."""
    folder = Path(folder)
    ratings = _read_dat(folder / "ratings.dat", RATING_COLUMNS, "int64")
    movie_dtypes = {"movie_id": "int64", "title": str, "genres": str}
    movies = _read_dat(folder / "movies.dat", list(movie_dtypes), movie_dtypes)
    return ratings, _read_users_1m(folder / "users.dat"), _with_year(movies)


# --------------------------------------------------------------------------------------------
# MovieLens 20M, 25M, latest-small: CSV with a header
# --------------------------------------------------------------------------------------------


def _read_csv(path, columns, dtype):
    """Read a UTF-8 CSV file whose header must be ``columns``' keys; name them by its values."""
    with open(path, encoding="utf-8", newline="") as file:
        header = file.readline().rstrip("\r\n")
    if header != ",".join(columns):
        raise OSError(f"{path} starts with the header {header!r}; expected {','.join(columns)!r}.")
    names = list(columns.values())
    return pd.read_csv(
        path, header=0, names=names, dtype=dict(zip(names, dtype)), keep_default_na=False, encoding="utf-8", engine="c"
    )


def read_csv_release(folder):
    """Read the ``ratings.csv`` and ``movies.csv`` of MovieLens 20M, 25M or latest(-small)."""
    folder = Path(folder)
    ratings = _read_csv(folder / "ratings.csv", _CSV_RATINGS, ["int32", "int32", "float32", "int64"])
    movies = _read_csv(folder / "movies.csv", _CSV_MOVIES, ["int32", str, str])
    return ratings, None, _with_year(movies)
