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

A file pandas cannot parse (a corrupt or hand-edited copy) raises a ``ValueError`` that names the
file, its first bad line and what was expected there: only then is the file read again, line by
line in Python, to find that line (see :func:`_parse`). A file without rows is an error too.
"""

import csv
import io
import re
from collections import namedtuple
from functools import lru_cache, partial
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

_Format = namedtuple("_Format", ["sep", "fields", "kinds", "encoding", "rows", "header", "summary"],
                     defaults=[False, None])  # fmt: skip
_Format.__doc__ = """How a MovieLens file is laid out, for its error messages and to find its first bad line.

``sep`` is the separator as written; ``fields`` the names of the fields (as in the header, if any);
``kinds`` their kinds (keys of ``_KINDS``); ``rows`` what the lines hold ("ratings"); ``header``
whether a header line comes first; ``summary`` a shorter text for ``fields`` in messages."""

_RATINGS_100K = _Format("\t", RATING_COLUMNS, ["int64"] * 4, "latin-1", "ratings")
_USERS_100K = _Format("|", USER_COLUMNS, ["int64", "int64", "str", "str", "str"], "latin-1", "users")
_RATINGS_1M = _Format("::", RATING_COLUMNS, ["int64"] * 4, "latin-1", "ratings")
_USERS_1M = _Format("::", ["user_id", "gender", "age", "occupation", "zip_code"],
                    ["int64", "str", "int64", "int64", "str"], "latin-1", "users")  # fmt: skip
_MOVIES_1M = _Format("::", ["movie_id", "title", "genres"], ["int64", "str", "str"], "latin-1", "movies")
_RATINGS_CSV = _Format(",", list(_CSV_RATINGS), ["int32", "int32", "float32", "int64"], "utf-8", "ratings", True)
_MOVIES_CSV = _Format(",", list(_CSV_MOVIES), ["int32", "str", "str"], "utf-8", "movies", True)

_SEPARATORS = {"\t": "tab", "|": "'|'", "::": "'::'", ",": "comma"}

# A number as pandas' C parser reads it; integer columns also take "3.0" and "1e3".
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")

# "Name|index", a line of MovieLens 100k's u.genre.
_GENRE_LINE = re.compile(r"(.*)\|\s*(\d+)\s*")


# --------------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------------


def _with_year(movies):
    """Return ``movies`` with ``year`` (Int64, <NA> if the title has none) inserted after ``title``."""
    year = pd.to_numeric(movies["title"].str.extract(_YEAR, expand=False)).astype("Int64")
    movies = movies.copy()
    movies.insert(movies.columns.get_loc("title") + 1, "year", year)
    return movies


def _numbered_lines(path, encoding="latin-1"):
    """Return ``(line number, line)`` for each non-blank line of a small text file."""
    lines = Path(path).read_text(encoding=encoding).splitlines()
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def _read_lines(path, encoding="latin-1"):
    return [line for _, line in _numbered_lines(path, encoding)]


def _pandas_dtypes(names, fmt):
    """Map each of ``names`` to the dtype pandas reads its field as (dates are parsed later)."""
    return {name: str if kind in ("str", "date") else kind for name, kind in zip(names, fmt.kinds)}


# --------------------------------------------------------------------------------------------
# Errors that name the file, the line and what was expected
# --------------------------------------------------------------------------------------------


def _parse(path, fmt, parse):
    """Return the DataFrame ``parse()`` reads from ``path``, a file in the layout ``fmt``.

    Raises ``ValueError`` naming ``path`` if pandas cannot parse it (the message gives the first
    bad line and what was expected there), if it is not in ``fmt.encoding``, or if it has no rows.
    Other errors, such as ``FileNotFoundError``, pass through.
    """
    try:
        frame = parse()
    except UnicodeDecodeError as exc:
        raise ValueError(_decode_message(path, fmt, exc)) from exc
    except (ValueError, OverflowError) as exc:  # pandas' ParserError is a ValueError
        raise ValueError(_content_message(path, fmt, exc)) from exc
    if len(frame) == 0:
        raise ValueError(_empty_message(path, fmt))
    return frame


def _describe(fmt):
    """Say what a line of ``fmt`` holds: "4 tab-separated fields user_id, movie_id, rating, timestamp"."""
    return f"{len(fmt.kinds)} {_SEPARATORS[fmt.sep]}-separated fields {fmt.summary or ', '.join(fmt.fields)}"


def _empty_message(path, fmt):
    after = " after its header" if fmt.header else ""
    return f"{path} holds no {fmt.rows}; expected lines of {_describe(fmt)}{after}."


def _content_message(path, fmt, exc):
    """Say which line of ``path`` pandas could not parse (``exc``), found by reading it again in Python."""
    try:
        bad = _first_bad_line(path, fmt)
    except csv.Error:
        bad = None
    if bad is None:
        return f"{path} is not lines of {_describe(fmt)}: pandas says {str(exc).strip()!r}."
    return f"{path} line {bad[0]}: {bad[1]}."


def _first_bad_line(path, fmt):
    """Return ``(line number, what is wrong)`` for the first line of ``path`` not in ``fmt``, or None.

    Lines matching :func:`_plain_line` are skipped unchecked: about a microsecond a line, so the
    25 million lines of MovieLens 25M are searched in about half a minute (only after pandas failed).
    """
    plain = _plain_line(fmt)
    for number, line in _lines(path, fmt):
        problem = None if plain.fullmatch(line) else _row_problem(_split(line, fmt), fmt)
        if problem:
            return number, problem
    return None


def _delimiter(fmt):
    return "\t" if fmt.sep == "::" else fmt.sep  # see _read_dat


def _lines(path, fmt):
    """Yield ``(line number, line)`` for the lines of ``path`` that pandas reads as rows ("::" becomes a tab)."""
    with open(path, encoding=fmt.encoding, newline="") as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if fmt.sep == "::":
                line = line.replace("::", "\t")
            blank = not line.strip() and _delimiter(fmt) not in line  # pandas skips it
            if not blank and not (fmt.header and number == 1):
                yield number, line


def _split(line, fmt):
    """Split a line into fields as pandas does: quotes are plain characters in 1M files only."""
    quoting = csv.QUOTE_NONE if fmt.sep == "::" else csv.QUOTE_MINIMAL
    return next(csv.reader([line], delimiter=_delimiter(fmt), quoting=quoting))


def _plain_line(fmt):
    """A regex matching lines of ``fmt`` whose fields surely parse: unquoted, short integers."""
    sep = re.escape(_delimiter(fmt))
    return re.compile(sep.join(f'[^{sep}"]*' if kind == "str" else _PLAIN[kind] for kind in fmt.kinds))


def _row_problem(row, fmt):
    """Say what is wrong with the fields ``row`` of a line in the layout ``fmt``; None if nothing."""
    if len(row) != len(fmt.kinds):
        return f"expected {_describe(fmt)}; got {len(row)}"
    for name, kind, value in zip(fmt.fields, fmt.kinds, row):
        accepts, expected = _KINDS[kind]
        if not accepts(value):
            return f"expected {name} to be {expected}; got {value!r}"
    return None


def _is_number(value, kind):
    """Whether pandas' C parser reads ``value`` into a column of dtype ``kind``."""
    if not _NUMBER.fullmatch(value):
        return False
    if kind not in _INT_RANGES:
        return True
    number, (low, high) = float(value), _INT_RANGES[kind]
    return number.is_integer() and low <= number <= high


@lru_cache(maxsize=4096)
def _is_release_date(value):
    """Whether ``value`` is empty or a MovieLens 100k release date such as "01-Jan-1995"."""
    if value == "":
        return True
    try:
        _parse_release_dates(pd.Series([value], dtype=str))
    except ValueError:
        return False
    return True


def _decode_message(path, fmt, exc):
    """Say where ``path`` holds a byte that ``fmt.encoding`` cannot decode (``exc``, from pandas)."""
    found = _first_undecodable_byte(path, fmt.encoding)
    what = f" line {found[0]}: byte 0x{found[2]:02x} at column {found[1]}" if found else f": a byte ({exc.reason})"
    encoding = fmt.encoding.upper()
    return (f"{path}{what} is not valid {encoding}; expected a {encoding} encoded file, as GroupLens "
            f"publishes it (was it saved again in another encoding, such as latin-1 or cp1252?).")  # fmt: skip


def _first_undecodable_byte(path, encoding):
    """Return ``(line number, column, byte)`` of the first byte of ``path`` not in ``encoding``, or None.

    Lines are decoded one by one: no multi-byte UTF-8 character holds a newline byte.
    """
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                return number, exc.start + 1, line[exc.start]
    return None


_INT_RANGES = {kind: (int(np.iinfo(kind).min), int(np.iinfo(kind).max)) for kind in ("int8", "int32", "int64")}

# For _plain_line: field texts that surely parse as their kind ("date" never matches: always checked).
_PLAIN = {"int8": "[01]", "int32": r"[+-]?\d{1,9}", "int64": r"[+-]?\d{1,18}", "float32": r"[+-]?\d+(?:\.\d+)?",
          "date": "(?!)"}  # fmt: skip

_KINDS = {
    "int64": (partial(_is_number, kind="int64"), "a 64-bit integer"),
    "int32": (partial(_is_number, kind="int32"), "a 32-bit integer"),
    "int8": (partial(_is_number, kind="int8"), "a 0/1 flag"),
    "float32": (partial(_is_number, kind="float32"), "a number"),
    "str": (lambda value: True, "text"),
    "date": (_is_release_date, "a date such as 01-Jan-1995, or empty"),
}


# --------------------------------------------------------------------------------------------
# MovieLens 100k
# --------------------------------------------------------------------------------------------


def read_ratings_100k(path):
    """Parse a tab separated ratings file (u.data, uN.base, uN.test) into int64 columns.

    Raises ``ValueError`` naming the file if a line is not 4 integers or the file has no ratings.
    """
    read = partial(pd.read_csv, path, sep="\t", header=None, names=RATING_COLUMNS, dtype="int64", encoding="latin-1")
    return _parse(path, _RATINGS_100K, read)


def _read_users_100k(folder):
    occupations = _read_lines(folder / "u.occupation")
    path = folder / "u.user"
    dtype = _pandas_dtypes(USER_COLUMNS, _USERS_100K)
    read = partial(pd.read_csv, path, sep="|", header=None, names=USER_COLUMNS, dtype=dtype,
                   keep_default_na=False, encoding="latin-1")  # fmt: skip
    users = _parse(path, _USERS_100K, read)
    unknown = sorted(set(users["occupation"]) - set(occupations))
    if unknown:
        raise OSError(f"{path} has occupations missing from u.occupation: {unknown[:5]}.")
    users["gender"] = users["gender"].astype("category")
    users["occupation"] = users["occupation"].astype(pd.CategoricalDtype(occupations))
    return users


def _month_number(match):
    """"-Jan-" -> "-01-"; an unknown month name is left for pd.to_datetime to reject."""
    return f"-{_MONTHS.get(match.group(1).title(), match.group(1))}-"


def _parse_release_dates(values):
    """Parse dates such as "01-Jan-1995" (NaN stays NaT); raise ``ValueError`` on any other text."""
    numeric = values.str.replace(r"-([A-Za-z]{3})-", _month_number, regex=True)
    return pd.to_datetime(numeric, format="%d-%m-%Y").astype("datetime64[ns]")


def _genres_from_flags(raw, genre_names):
    """Join the names of the 0/1 genre flags set on each row with "|"."""
    flags = raw[genre_names].to_numpy(dtype=bool)
    names = np.asarray(genre_names, dtype=object)
    return pd.array(["|".join(names[row]) for row in flags], dtype=raw["title"].dtype)


def _read_genres_100k(path):
    """Return the genre names of u.genre, whose lines are "name|index", in index order."""
    pairs = []
    for number, line in _numbered_lines(path):
        match = _GENRE_LINE.fullmatch(line)
        if not match:
            raise ValueError(f"{path} line {number}: expected a genre name and its index separated by '|', "
                             f"such as 'Action|1'; got {line!r}.")  # fmt: skip
        pairs.append((int(match.group(2)), match.group(1)))
    if not pairs:
        raise ValueError(f"{path} holds no genres; expected lines such as 'Action|1'.")
    return [name for _, name in sorted(pairs)]


def _item_format(genre_names):
    """The layout of u.item, whose last fields are the 0/1 flags of ``genre_names``."""
    kinds = ["int64", "str", "date", "str", "str"] + ["int8"] * len(genre_names)
    summary = f"{', '.join(_ITEM_COLUMNS_100K)} and {len(genre_names)} 0/1 genre flags"
    return _Format("|", _ITEM_COLUMNS_100K + genre_names, kinds, "latin-1", "movies", summary=summary)


def _parse_items_100k(path, fmt):
    """Read u.item with pandas and parse its release dates."""
    raw = pd.read_csv(
        path,
        sep="|",
        header=None,
        names=fmt.fields,
        dtype=_pandas_dtypes(fmt.fields, fmt),
        keep_default_na=False,
        na_values={"release_date": [""], "video_release_date": [""], "imdb_url": [""]},
        encoding="latin-1",
    )
    return raw.assign(release_date=_parse_release_dates(raw["release_date"]))


def _read_movies_100k(folder):
    # u.genre's order is the order of the 0/1 flags at the end of u.item.
    genre_names = _read_genres_100k(folder / "u.genre")
    path, fmt = folder / "u.item", _item_format(genre_names)
    raw = _parse(path, fmt, partial(_parse_items_100k, path, fmt))
    movies = raw[["movie_id", "title"]].assign(genres=_genres_from_flags(raw, genre_names))
    movies["release_date"] = raw["release_date"]
    movies["imdb_url"] = raw["imdb_url"]
    return _with_year(movies)


def read_100k(folder):
    """Read ``ml-100k/``: ``u.data``, ``u.user`` (with ``u.occupation``), ``u.item`` (with ``u.genre``).

    Raises ``ValueError`` naming the file, and where it can the line, if a file is corrupt or
    ``u.data`` has no ratings; ``FileNotFoundError`` if a file is missing.
    """
    folder = Path(folder)
    return read_ratings_100k(folder / "u.data"), _read_users_100k(folder), _read_movies_100k(folder)


# --------------------------------------------------------------------------------------------
# MovieLens 1M
# --------------------------------------------------------------------------------------------


def _read_dat(path, fmt):
    """Parse a latin-1, ``::`` separated MovieLens 1M file in the layout ``fmt`` with pandas' C parser.

    The C parser takes one-character separators only (a longer one falls back to the slow
    Python parser), so ``::`` becomes a tab first: no field of these files holds a tab. Quotes
    in titles are plain characters (``QUOTE_NONE``).
    """
    text = Path(path).read_bytes().decode("latin-1").replace("::", "\t")
    read = partial(pd.read_csv, io.StringIO(text), sep="\t", header=None, names=fmt.fields,
                   dtype=_pandas_dtypes(fmt.fields, fmt), quoting=csv.QUOTE_NONE, keep_default_na=False)  # fmt: skip
    return _parse(path, fmt, read)


def _read_users_1m(path):
    users = _read_dat(path, _USERS_1M)
    codes = users["occupation"]
    if not codes.between(0, len(OCCUPATIONS_1M) - 1).all():
        bad = sorted(set(codes[~codes.between(0, len(OCCUPATIONS_1M) - 1)]))
        raise OSError(f"{path} has occupation codes outside 0..{len(OCCUPATIONS_1M) - 1}: {bad[:5]}.")
    users["gender"] = users["gender"].astype("category")
    users["occupation"] = pd.Categorical.from_codes(codes.to_numpy(), categories=OCCUPATIONS_1M)
    return users[USER_COLUMNS]  # 100k's column order


def read_1m(folder):
    """Read ``ml-1m/``: ``ratings.dat``, ``users.dat`` and ``movies.dat``.

    Raises ``ValueError`` naming the file and line if a file is corrupt or has no rows;
    ``FileNotFoundError`` if a file is missing.
    """
    folder = Path(folder)
    ratings = _read_dat(folder / "ratings.dat", _RATINGS_1M)
    movies = _read_dat(folder / "movies.dat", _MOVIES_1M)
    return ratings, _read_users_1m(folder / "users.dat"), _with_year(movies)


# --------------------------------------------------------------------------------------------
# MovieLens 20M, 25M, latest-small: CSV with a header
# --------------------------------------------------------------------------------------------


def _parse_csv(path, fmt, columns):
    """Read a UTF-8 CSV file whose header must be ``columns``' keys; name them by its values."""
    names = list(columns.values())
    with open(path, encoding="utf-8", newline="") as file:
        header = file.readline()
    if not header:  # an empty file: _parse reports that it holds no rows
        return pd.DataFrame(columns=names)
    if header.rstrip("\r\n") != ",".join(columns):
        raise OSError(f"{path} starts with the header {header.rstrip()!r}; expected {','.join(columns)!r}.")
    dtype = _pandas_dtypes(names, fmt)
    return pd.read_csv(path, header=0, names=names, dtype=dtype, keep_default_na=False, encoding="utf-8", engine="c")


def _read_csv(path, fmt, columns):
    return _parse(path, fmt, partial(_parse_csv, path, fmt, columns))


def read_csv_release(folder):
    """Read the ``ratings.csv`` and ``movies.csv`` of MovieLens 20M, 25M or latest(-small).

    Raises ``ValueError`` naming the file and line if a file is corrupt, not UTF-8 or has no rows;
    ``OSError`` if its header is not the release's; ``FileNotFoundError`` if it is missing.
    """
    folder = Path(folder)
    ratings = _read_csv(folder / "ratings.csv", _RATINGS_CSV, _CSV_RATINGS)
    movies = _read_csv(folder / "movies.csv", _MOVIES_CSV, _CSV_MOVIES)
    return ratings, None, _with_year(movies)
