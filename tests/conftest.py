"""Shared test fixtures: the real MovieLens folder (opt-in via SKREC_DATA) and a tiny fake one."""

import os
from pathlib import Path

import pytest

# --------------------------------------------------------------------------------------------
# MovieLens data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def movielens_home():
    """The data_home holding the real, extracted ``ml-100k/`` folder, from ``$SKREC_DATA``.

    Tests using it skip when ``SKREC_DATA`` is unset, and fail when it is set but the data is not
    there, so that CI (which sets it) cannot silently skip the real-data tests.
    """
    data_home = os.environ.get("SKREC_DATA")
    if not data_home:
        pytest.skip("SKREC_DATA is not set: set it to the folder that holds the extracted ml-100k/")
    data_home = Path(data_home).expanduser()
    if not (data_home / "ml-100k" / "u.data").is_file():
        pytest.fail(
            f"SKREC_DATA is set to {str(data_home)!r} but {data_home / 'ml-100k' / 'u.data'} is missing. "
            "Extract https://files.grouplens.org/datasets/movielens/ml-100k.zip there, or unset SKREC_DATA."
        )
    return str(data_home)


_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]  # fmt: skip


def _genre_flags(*names):
    return "|".join("1" if genre in names else "0" for genre in _GENRES)


@pytest.fixture
def tiny_movielens_files():
    """A tiny MovieLens 100k in the real file formats: ``{file name: bytes}``.

    3 users, 4 movies, 8 ratings, and the fold ``u1`` (6 train / 2 test ratings). It covers a
    latin-1 title, a one-digit release day, a movie with no release date, URL or genre but
    "unknown", a zip code with a leading zero and a Canadian postcode.
    """
    ratings = [
        (2, 3, 4, 888550871),
        (1, 1, 5, 874965758),
        (3, 2, 1, 889237269),
        (1, 2, 3, 876893171),
        (2, 1, 4, 888551000),
        (3, 4, 2, 889237455),
        (1, 3, 4, 878542960),
        (2, 4, 5, 888552000),
    ]
    lines = ["\t".join(map(str, r)) for r in ratings]
    items = [
        "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
        + _genre_flags("Animation", "Children's", "Comedy"),
        f"2|Misérables, Les (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Mis%E9rables|"
        f"{_genre_flags('Drama', 'Musical')}",
        f"3|Good Morning (1971)|4-Feb-1971||http://us.imdb.com/M/title-exact?Good%20Morning|{_genre_flags('unknown')}",
        f"4|unknown||||{_genre_flags('unknown')}",
    ]
    users = ["1|24|M|technician|01002", "2|53|F|other|94043", "3|39|M|writer|T8H1N"]
    occupations = ["administrator", "artist", "none", "other", "student", "technician", "writer"]
    return {
        "u.data": ("\n".join(lines) + "\n").encode(),
        "u.item": ("\n".join(items) + "\n").encode("latin-1"),
        "u.user": ("\n".join(users) + "\n").encode(),
        "u.occupation": ("\n".join(occupations) + "\n").encode(),
        "u.genre": ("".join(f"{g}|{i}\n" for i, g in enumerate(_GENRES)) + "\n").encode(),
        "u.info": b"3 users\n4 items\n8 ratings\n",
        "u1.base": ("\n".join(lines[:6]) + "\n").encode(),
        "u1.test": ("\n".join(lines[6:]) + "\n").encode(),
        "README": b"A tiny fake of MovieLens 100k for tests.\n",
    }


@pytest.fixture
def tiny_movielens_home(tmp_path, tiny_movielens_files):
    """A data_home folder holding the tiny MovieLens as an extracted ``ml-100k/`` folder."""
    data_home = tmp_path / "tiny_data_home"
    folder = data_home / "ml-100k"
    folder.mkdir(parents=True)
    for name, content in tiny_movielens_files.items():
        (folder / name).write_bytes(content)
    return data_home
