"""skrec.datasets: parsing, the data folder, safe download and extraction, and the real files.

Everything except the ``realdata`` tests runs offline: downloads come from a real HTTP server on
127.0.0.1 serving a tiny MovieLens-format zip built in the test.
"""

import hashlib
import io
import logging
import os
import re
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import skrec.datasets
from skrec.datasets import _base, _movielens, fetch_movielens, fetch_movielens_fold, get_data_home

ROOT = Path(__file__).resolve().parents[1]
URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RATING_DTYPES = {"user_id": "int64", "movie_id": "int64", "rating": "int64", "timestamp": "int64"}
FAST = {"n_retries": 1, "delay": 0}


def _zip_bytes(files, prefix="ml-100k/", extra=()):
    """Zip ``{name: bytes}`` under ``prefix`` (as the GroupLens archive does), plus ``extra`` members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(prefix, b"")
        for name, content in files.items():
            archive.writestr(prefix + name, content)
        for name, content in extra:
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def _snapshot(folder):
    """Every path under ``folder`` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(Path(folder).rglob("*"))}  # fmt: skip


# --------------------------------------------------------------------------------------------
# A local HTTP server
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, declared_length = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(declared_length))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this, even if short

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (ephemeral port) serving ``server.routes[path] = (body, length)``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.hits = {}, []
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _serve(monkeypatch, server, body, *, checksum=None, declared_length=None, path=None, variant="100k"):
    """Serve ``body`` at ``path`` and point the URL and checksum of MovieLens ``variant`` at it."""
    spec = _movielens._VARIANTS[variant]
    path = path or f"/{spec.remote.filename}"
    server.routes[path] = (body, len(body) if declared_length is None else declared_length)
    remote = spec.remote._replace(
        url=server.base_url + path,
        checksum=hashlib.sha256(body).hexdigest() if checksum is None else checksum,
    )
    monkeypatch.setitem(_movielens._VARIANTS, variant, spec._replace(remote=remote))
    return remote.url


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SKREC_DATA", raising=False)
    return tmp_path / "data_home"


# --------------------------------------------------------------------------------------------
# get_data_home
# --------------------------------------------------------------------------------------------


def test_get_data_home_creates_an_explicit_folder(tmp_path):
    home = get_data_home(tmp_path / "a" / "b")
    assert home == str(tmp_path / "a" / "b") and os.path.isdir(home)


def test_get_data_home_honours_skrec_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SKREC_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == str(tmp_path / "from_env")
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")  # an argument wins


def test_get_data_home_defaults_to_skrec_data_in_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SKREC_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "skrec_data")
    assert get_data_home("~/elsewhere") == str(tmp_path / "elsewhere")


def test_get_data_home_rejects_a_non_path():
    with pytest.raises(TypeError, match="The 'data_home' parameter must be a str, a path-like object or None. Got 3"):
        get_data_home(3)


# --------------------------------------------------------------------------------------------
# Parsing an extracted folder
# --------------------------------------------------------------------------------------------


def test_fetch_parses_every_file_with_documented_dtypes(tiny_movielens_home):
    ml = fetch_movielens(data_home=tiny_movielens_home, download_if_missing=False)
    assert set(ml) == {"ratings", "users", "movies", "DESCR"}

    assert ml.ratings.dtypes.astype(str).to_dict() == RATING_DTYPES
    # File order, not sorted: protocol P3's seeded shuffle depends on it.
    assert ml.ratings.iloc[0].tolist() == [2, 3, 4, 888550871]
    assert ml.ratings.index.equals(pd.RangeIndex(8))

    users = ml.users
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users["user_id"].dtype == "int64" and users["age"].dtype == "int64"
    assert users["gender"].cat.categories.tolist() == ["F", "M"]
    assert len(users["occupation"].cat.categories) == 7  # all of u.occupation, used or not
    assert pd.api.types.is_string_dtype(users["zip_code"])
    assert users["zip_code"].tolist() == ["01002", "94043", "T8H1N"]  # leading zero kept

    movies = ml.movies.set_index("movie_id")
    assert list(ml.movies.columns) == ["movie_id", "title", "year", "genres", "release_date", "imdb_url"]
    assert ml.movies["movie_id"].dtype == "int64" and ml.movies["year"].dtype == "Int64"
    assert movies["year"].tolist() == [1995, 1995, 1971, pd.NA]  # "unknown" has no year
    assert pd.api.types.is_string_dtype(ml.movies["title"]) and pd.api.types.is_string_dtype(ml.movies["genres"])
    assert ml.movies["release_date"].dtype == "datetime64[ns]"
    assert movies.loc[2, "title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert movies.loc[3, "release_date"] == pd.Timestamp("1971-02-04")  # one-digit day
    assert pd.isna(movies.loc[4, "release_date"]) and pd.isna(movies.loc[4, "imdb_url"])
    assert movies["genres"].tolist() == ["Animation|Children's|Comedy", "Drama|Musical", "unknown", "unknown"]
    assert movies["genres"].str.get_dummies("|").loc[1].sum() == 3

    assert "Harper" in ml.DESCR and "may not redistribute" in ml.DESCR


def test_fetch_reads_skrec_data_when_data_home_is_none(tiny_movielens_home, monkeypatch):
    monkeypatch.setenv("SKREC_DATA", str(tiny_movielens_home))
    assert len(fetch_movielens(download_if_missing=False).ratings) == 8


def test_fetch_changes_nothing_on_disk_and_returns_fresh_frames(tiny_movielens_home):
    before = _snapshot(tiny_movielens_home)
    first = fetch_movielens(data_home=tiny_movielens_home, download_if_missing=False)
    first.ratings.loc[0, "rating"] = 1
    del first.movies["genres"]
    second = fetch_movielens(data_home=str(tiny_movielens_home), download_if_missing=False)
    assert second.ratings.loc[0, "rating"] == 4 and "genres" in second.movies
    assert _snapshot(tiny_movielens_home) == before


def test_fold_returns_train_and_test_in_the_ratings_format(tiny_movielens_home):
    train, test = fetch_movielens_fold("u1", data_home=tiny_movielens_home, download_if_missing=False)
    assert (len(train), len(test)) == (6, 2)
    for frame in (train, test):
        assert frame.dtypes.astype(str).to_dict() == RATING_DTYPES
    all_ratings = fetch_movielens(data_home=tiny_movielens_home).ratings
    pd.testing.assert_frame_equal(pd.concat([train, test], ignore_index=True), all_ratings)


def test_fold_file_missing_from_the_folder_raises_oserror(tiny_movielens_home):
    with pytest.raises(OSError, match="ua.base"):
        fetch_movielens_fold("ua", data_home=tiny_movielens_home)


# --------------------------------------------------------------------------------------------
# Parameter validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["10m", "100K", "latest", 100, None])
def test_bad_variant_raises_valueerror_naming_the_allowed_values(variant, tiny_movielens_home):
    allowed = "{'100k', '1m', '20m', '25m', 'latest-small'}"
    msg = f"The 'variant' parameter of fetch_movielens must be a str among {allowed}. Got {variant!r} instead."
    with pytest.raises(ValueError, match=re.escape(msg)):
        fetch_movielens(variant, data_home=tiny_movielens_home)


@pytest.mark.parametrize("variant", ["1m", "20m", "25m", "latest-small"])
def test_folds_of_another_release_raise_and_point_to_the_splitters(variant, empty_home):
    with pytest.raises(ValueError, match=f"MovieLens {variant} has no canonical folds: only the 100k archive ships"):
        fetch_movielens_fold("u1", variant=variant, data_home=empty_home)
    with pytest.raises(ValueError, match=r"'variant' parameter of fetch_movielens_fold must be a str among \{'100k'\}"):
        fetch_movielens_fold("u1", variant="2m", data_home=empty_home)
    assert not empty_home.exists()  # checked before anything is created


@pytest.mark.parametrize("fold", ["u6", "u0", 1, "U1"])
def test_bad_fold_raises_valueerror_naming_the_allowed_values(fold, tiny_movielens_home):
    with pytest.raises(ValueError, match=r"The 'fold' parameter of fetch_movielens_fold must be a str among \{'u1', "):
        fetch_movielens_fold(fold, data_home=tiny_movielens_home)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_retries": -1}, ValueError, r"'n_retries' parameter of fetch_movielens must be an int in the range \[0, inf\). Got -1 "),
        ({"n_retries": 1.5}, ValueError, "'n_retries' parameter .* Got 1.5"),
        ({"delay": -0.5}, ValueError, r"'delay' parameter of fetch_movielens must be a float in the range \[0, inf\). Got -0.5"),
        ({"download_if_missing": "no"}, TypeError, "'download_if_missing' parameter of fetch_movielens must be a bool. Got 'no'"),
    ],
)  # fmt: skip
def test_bad_download_parameters_raise(kwargs, error, match, tiny_movielens_home):
    with pytest.raises(error, match=match):
        fetch_movielens(data_home=tiny_movielens_home, **kwargs)


# --------------------------------------------------------------------------------------------
# Missing data, downloads and extraction
# --------------------------------------------------------------------------------------------


def test_missing_data_without_download_raises_the_fixed_sentence(empty_home, monkeypatch):
    monkeypatch.setattr(_base, "fetch_file", lambda *a, **k: pytest.fail("must not download"))
    folder = empty_home / "ml-100k"
    for fetch in (fetch_movielens, lambda **kw: fetch_movielens_fold("u1", **kw)):
        with pytest.raises(OSError) as excinfo:
            fetch(data_home=empty_home, download_if_missing=False)
        message = str(excinfo.value)
        assert message.startswith("MovieLens 100k data not found and download_if_missing is False. ")
        assert f"Download {URL} and extract it into {empty_home}, so that the folder {folder} holds u.data" in message
    assert os.listdir(empty_home) == []


def test_download_extracts_the_archive_then_reads_from_the_folder(
    server, monkeypatch, empty_home, tiny_movielens_files, caplog, capsys
):
    _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files))
    with caplog.at_level(logging.INFO, logger="skrec.datasets"):
        ml = fetch_movielens(data_home=empty_home, **FAST)
    assert len(ml.ratings) == 8 and ml.movies.loc[1, "title"] == "Misérables, Les (1995)"
    assert any("Downloading http://127.0.0.1" in r.getMessage() for r in caplog.records)
    assert capsys.readouterr().out == ""  # it logs, never prints
    # Only the extracted folder remains: no archive, no temporary file or folder.
    assert os.listdir(empty_home) == ["ml-100k"]
    assert sorted(os.listdir(empty_home / "ml-100k")) == sorted(tiny_movielens_files)

    train, _ = fetch_movielens_fold("u1", data_home=empty_home, **FAST)
    assert len(train) == 6 and len(server.hits) == 1  # the second call did not download


def test_checksum_mismatch_raises_and_leaves_nothing(server, monkeypatch, empty_home, tiny_movielens_files):
    url = _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files), checksum="0" * 64)
    with pytest.raises(OSError, match="SHA256 checksum") as excinfo:
        fetch_movielens(data_home=empty_home, **FAST)
    assert url in str(excinfo.value) and str(empty_home / "ml-100k") in str(excinfo.value)
    assert os.listdir(empty_home) == []


def test_truncated_download_is_retried_then_raises_and_leaves_nothing(
    server, monkeypatch, empty_home, tiny_movielens_files
):
    body = _zip_bytes(tiny_movielens_files)
    url = _serve(monkeypatch, server, body[: len(body) // 2], declared_length=len(body))
    with pytest.warns(UserWarning, match="Retry downloading"), pytest.raises(OSError, match="failed") as excinfo:
        fetch_movielens(data_home=empty_home, **FAST)
    assert url in str(excinfo.value)
    assert len(server.hits) == 2  # one try plus n_retries=1
    assert os.listdir(empty_home) == []


def test_http_error_names_the_url_and_where_to_put_a_copy(server, monkeypatch, empty_home):
    url = _serve(monkeypatch, server, b"unused", path="/elsewhere.zip")
    server.routes.clear()  # the URL now answers 404
    with pytest.warns(UserWarning, match="Retry downloading"), pytest.raises(OSError) as excinfo:
        fetch_movielens_fold("u1", data_home=empty_home, **FAST)
    message = str(excinfo.value)
    assert message.startswith(f"Downloading {url} failed (HTTPError: HTTP Error 404")
    assert f"extract it into {empty_home}, so that the folder {empty_home / 'ml-100k'} holds" in message
    assert os.listdir(empty_home) == []


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/skrec-evil.txt", "ml-100k/../../evil.txt"])
def test_a_member_escaping_the_folder_is_rejected(server, monkeypatch, empty_home, tiny_movielens_files, member):
    _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files, extra=[(member, b"gotcha")]))
    with pytest.raises(OSError, match=f"its member '{member}' would be written outside"):
        fetch_movielens(data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == []
    assert not list(empty_home.parent.rglob("*evil.txt")) and not os.path.exists("/tmp/skrec-evil.txt")


def test_an_archive_without_the_folder_is_rejected(server, monkeypatch, empty_home, tiny_movielens_files):
    _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files, prefix="ml-1m/"))
    with pytest.raises(OSError, match="holds no file ml-100k/u.data"):
        fetch_movielens(data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == []


def test_a_file_that_is_not_a_zip_is_rejected(server, monkeypatch, empty_home):
    _serve(monkeypatch, server, b"<html>not a zip</html>")
    with pytest.raises(OSError, match="is not a valid zip file"):
        fetch_movielens(data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == []


def test_an_interrupted_extraction_leaves_no_half_folder(server, monkeypatch, empty_home, tiny_movielens_files):
    _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files))

    def extract_one_then_interrupt(self, path=None, members=None, pwd=None):
        self.extract("ml-100k/u.data", path)
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "extractall", extract_one_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fetch_movielens(data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == []


def test_an_incomplete_existing_folder_is_left_alone_and_reported(
    server, monkeypatch, empty_home, tiny_movielens_files
):
    (empty_home / "ml-100k").mkdir(parents=True)
    (empty_home / "ml-100k" / "u.item").write_bytes(b"partial copy")
    _serve(monkeypatch, server, _zip_bytes(tiny_movielens_files))
    with pytest.raises(OSError, match="If that folder is an incomplete copy, remove it"):
        fetch_movielens(data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == ["ml-100k"]
    assert os.listdir(empty_home / "ml-100k") == ["u.item"]


# --------------------------------------------------------------------------------------------
# MovieLens 1M, 20M, 25M and latest-small, in their real layouts
# --------------------------------------------------------------------------------------------

CSV_VARIANTS = ["20m", "25m", "latest-small"]
COMMON_MOVIE_COLUMNS = ["movie_id", "title", "year", "genres"]


def _tiny_1m_files():
    """ml-1m/ in its real format: "::" separated, latin-1 titles, occupation and age codes."""
    ratings = ["1::1193::5::978300760", "1::661::3::978302109", "2::1::4::978298709", "3::2::1::978297868",
               "3::1193::5::978297000"]  # fmt: skip
    users = ["1::F::1::10::48067", "2::M::56::16::70072", "3::M::25::0::02139"]
    movies = [
        "1::Toy Story (1995)::Animation|Children's|Comedy",
        "2::Misérables, Les (1995)::Drama|Musical",
        '661::"Great Performances" Cats (1998)::Musical',
        "1193::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi",
    ]
    return {
        "ratings.dat": ("\n".join(ratings) + "\n").encode(),
        "users.dat": ("\n".join(users) + "\n").encode(),
        "movies.dat": ("\n".join(movies) + "\n").encode("latin-1"),
        "README": b"A tiny fake of MovieLens 1M for tests.\n",
    }


def _tiny_csv_files():
    """ml-20m/, ml-25m/ or ml-latest-small/ in their real format: UTF-8 CSV with a header."""
    ratings = ["userId,movieId,rating,timestamp", "1,1,4.0,964982703", "1,3,0.5,964981247",
               "2,1,5.0,1445714835", "2,193609,3.5,1537799250", "2,50,4.5,1537799300"]  # fmt: skip
    movies = [
        "movieId,title,genres",
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        '3,"American President, The (1995)",Comedy|Drama|Romance',
        "50,Amélie (Fabuleux destin d'Amélie Poulain) (2001),Comedy|Romance",
        '77,"Fawlty Towers, ""The Germans"" (1975-1979)",Comedy',
        "193609,Babylon 5,(no genres listed)",
    ]
    return {
        "ratings.csv": ("\r\n".join(ratings) + "\r\n").encode(),
        "movies.csv": ("\n".join(movies) + "\n").encode("utf-8"),
        "tags.csv": b"userId,movieId,tag,timestamp\n2,50,quirky,1537799301\n",
        "links.csv": b"movieId,imdbId,tmdbId\n1,0114709,862\n",
    }


def _release_zip(variant, files=None):
    folder = _movielens._VARIANTS[variant].folder
    return _zip_bytes(files or (_tiny_1m_files() if variant == "1m" else _tiny_csv_files()), prefix=folder + "/")


def test_1m_download_gives_the_common_schema_and_its_users(server, monkeypatch, empty_home):
    _serve(monkeypatch, server, _release_zip("1m"), variant="1m")
    ml = fetch_movielens("1m", data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == ["ml-1m"]
    assert ml.ratings.dtypes.astype(str).to_dict() == RATING_DTYPES
    assert ml.ratings.iloc[0].tolist() == [1, 1193, 5, 978300760]  # file order

    assert list(ml.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert ml.users["age"].tolist() == [1, 56, 25]  # the band codes
    assert ml.users["occupation"].tolist() == ["K-12 student", "self-employed", "other"]
    assert len(ml.users["occupation"].cat.categories) == 21
    assert ml.users["zip_code"].tolist() == ["48067", "70072", "02139"]

    movies = ml.movies.set_index("movie_id")
    assert list(ml.movies.columns) == COMMON_MOVIE_COLUMNS and ml.movies["movie_id"].dtype == "int64"
    assert movies.loc[2, "title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert movies.loc[661, "title"] == '"Great Performances" Cats (1998)'  # quotes are characters
    assert movies.loc[1193, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert movies["year"].tolist() == [1995, 1995, 1998, 1977]
    assert movies.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert "MovieLens 1M" in ml.DESCR and "Harper" in ml.DESCR and "may not redistribute" in ml.DESCR


@pytest.mark.parametrize("variant", CSV_VARIANTS)
def test_csv_release_download_gives_the_common_schema_without_users(server, monkeypatch, empty_home, variant):
    _serve(monkeypatch, server, _release_zip(variant), variant=variant)
    ml = fetch_movielens(variant, data_home=empty_home, **FAST)
    assert os.listdir(empty_home) == [f"ml-{variant}"]
    assert ml.users is None
    dtypes = {"user_id": "int32", "movie_id": "int32", "rating": "float32", "timestamp": "int64"}
    assert ml.ratings.dtypes.astype(str).to_dict() == dtypes
    assert ml.ratings["rating"].tolist() == [4.0, 0.5, 5.0, 3.5, 4.5]  # half stars
    assert ml.ratings.index.equals(pd.RangeIndex(5))

    movies = ml.movies.set_index("movie_id")
    assert list(ml.movies.columns) == COMMON_MOVIE_COLUMNS and ml.movies["movie_id"].dtype == "int32"
    assert movies.loc[3, "title"] == "American President, The (1995)"  # quoted comma
    assert movies.loc[77, "title"] == 'Fawlty Towers, "The Germans" (1975-1979)'
    assert movies.loc[50, "title"] == "Amélie (Fabuleux destin d'Amélie Poulain) (2001)"  # UTF-8
    assert movies["year"].tolist() == [1995, 1995, 2001, 1975, pd.NA]
    assert movies.loc[193609, "genres"] == "(no genres listed)"
    assert movies["genres"].str.get_dummies("|").shape == (5, 8)  # 7 genres and the "none" marker
    assert "Harper" in ml.DESCR and f'fetch_movielens("{variant}")' in ml.DESCR


@pytest.mark.parametrize("variant", ["1m", *CSV_VARIANTS])
def test_checksum_mismatch_of_any_release_raises_and_leaves_nothing(server, monkeypatch, empty_home, variant):
    url = _serve(monkeypatch, server, _release_zip(variant), checksum="0" * 64, variant=variant)
    with pytest.raises(OSError, match="SHA256 checksum") as excinfo:
        fetch_movielens(variant, data_home=empty_home, **FAST)
    assert url in str(excinfo.value) and str(empty_home / f"ml-{variant}") in str(excinfo.value)
    assert os.listdir(empty_home) == []


@pytest.mark.parametrize("variant, marker", [("1m", "ratings.dat, users.dat and movies.dat"), ("25m", "ratings.csv")])
def test_missing_release_without_download_names_its_archive_and_files(empty_home, variant, marker):
    with pytest.raises(OSError) as excinfo:
        fetch_movielens(variant, data_home=empty_home, download_if_missing=False)
    message = str(excinfo.value)
    assert message.startswith(f"MovieLens {variant} data not found and download_if_missing is False. ")
    assert f"https://files.grouplens.org/datasets/movielens/ml-{variant}.zip" in message
    assert f"so that the folder {empty_home / f'ml-{variant}'} holds {marker}" in message


def _extracted(tmp_path, variant, files):
    folder = tmp_path / _movielens._VARIANTS[variant].folder
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return tmp_path


def test_unknown_1m_occupation_code_is_reported(tmp_path):
    files = _tiny_1m_files() | {"users.dat": b"1::F::1::21::48067\n"}
    with pytest.raises(OSError, match=r"users.dat has occupation codes outside 0..20: \[21\]"):
        fetch_movielens("1m", data_home=_extracted(tmp_path, "1m", files))


def test_csv_with_another_header_is_reported(tmp_path):
    files = _tiny_csv_files() | {"ratings.csv": b"user,item,rating,time\n1,1,4.0,964982703\n"}
    with pytest.raises(OSError, match="ratings.csv starts with the header 'user,item,rating,time'; expected 'userId,"):
        fetch_movielens("latest-small", data_home=_extracted(tmp_path, "latest-small", files))


# --------------------------------------------------------------------------------------------
# Corrupt files: a ValueError naming the file, the line and what was expected
# --------------------------------------------------------------------------------------------

_RATING_FIELDS_100K = "4 tab-separated fields user_id, movie_id, rating, timestamp"
_ITEM_FIELDS = (
    "24 '|'-separated fields movie_id, title, release_date, video_release_date, imdb_url and 19 0/1 genre flags"
)
_BAD_DATE = "expected release_date to be a date such as 01-Jan-1995, or empty; got "


def _item(date, last_flag="1"):
    """A u.item line for movie 5 with the release date ``date`` and the last genre flag ``last_flag``."""
    return f"5|Heat (1995)|{date}||x|{'0|' * 18}{last_flag}\n"


def _fetch(variant, name, home):
    """Load what reads ``name``: the fold u1 for its files, else the whole release."""
    if name.startswith("u1."):
        return fetch_movielens_fold("u1", data_home=home)
    return fetch_movielens(variant, data_home=home)


def _tiny_100k(tiny_movielens_files, name, lines):
    """The tiny ml-100k files with ``lines`` (str) put at the start of ``name``, its other lines kept."""
    return tiny_movielens_files | {name: (lines + tiny_movielens_files[name].decode("latin-1")).encode("latin-1")}


def _tiny_1m_or_csv(variant, name, lines):
    """The tiny files of ``variant`` with ``lines`` appended to ``name``."""
    files = _tiny_1m_files() if variant == "1m" else _tiny_csv_files()
    return files | {name: files[name] + lines.encode("latin-1")}


@pytest.mark.parametrize(
    "name, lines, line, expected",
    [
        ("u.data", "1\t1\t5\t874965758\n1\t2\t3\n", 2, f"expected {_RATING_FIELDS_100K}; got 3"),
        ("u.data", "1\t1\t5\t874965758\t9\n", 1, f"expected {_RATING_FIELDS_100K}; got 5"),
        ("u.data", "\n1\t1\tfive\t874965758\n", 2, "expected rating to be a 64-bit integer; got 'five'"),
        ("u.data", "1\t1\t4.5\t874965758\n", 1, "expected rating to be a 64-bit integer; got '4.5'"),
        ("u.data", "1\t1\t4\t99999999999999999999\n", 1, "expected timestamp to be a 64-bit integer; got '9999"),
        ("u1.base", "1\t1\t\t874965758\n", 1, "expected rating to be a 64-bit integer; got ''"),
        ("u.user", "4|forty|M|writer|12345\n", 1, "expected age to be a 64-bit integer; got 'forty'"),
        ("u.item", _item("32-Jan-1995"), 1, f"{_BAD_DATE}'32-Jan-1995'"),
        ("u.item", _item("01-Foo-1995"), 1, f"{_BAD_DATE}'01-Foo-1995'"),
        ("u.item", _item("1995-01-01"), 1, f"{_BAD_DATE}'1995-01-01'"),
        ("u.item", "5|Heat (1995)|01-Jan-1995||x|0|1\n", 1, f"expected {_ITEM_FIELDS}; got 7"),
        ("u.item", _item("01-Jan-1995", last_flag="yes"), 1, "expected Western to be a 0/1 flag; got 'yes'"),
    ],
)  # fmt: skip
def test_a_corrupt_100k_file_names_its_line_and_what_was_expected(
    tmp_path, tiny_movielens_files, name, lines, line, expected
):
    files = _tiny_100k(tiny_movielens_files, name, lines)
    home = _extracted(tmp_path, "100k", files)
    with pytest.raises(ValueError) as excinfo:
        _fetch("100k", name, home)
    assert str(excinfo.value).startswith(f"{home / 'ml-100k' / name} line {line}: {expected}")


@pytest.mark.parametrize(
    "variant, name, lines, line, expected",
    [
        ("1m", "ratings.dat", "4::1::five::978300760\n", 6, "expected rating to be a 64-bit integer; got 'five'"),
        ("1m", "ratings.dat", "4::1::5\n", 6,
         "expected 4 '::'-separated fields user_id, movie_id, rating, timestamp; got 3"),
        ("1m", "users.dat", "4::F::1::10::48067::extra\n", 4,
         "expected 5 '::'-separated fields user_id, gender, age, occupation, zip_code; got 6"),
        ("1m", "movies.dat", "x::Heat (1995)::Action\n", 5, "expected movie_id to be a 64-bit integer; got 'x'"),
        ("latest-small", "ratings.csv", "3,1,,964982703\n", 7, "expected rating to be a number; got ''"),
        ("latest-small", "ratings.csv", "3,1,4.0\n", 7,
         "expected 4 comma-separated fields userId, movieId, rating, timestamp; got 3"),
        ("20m", "ratings.csv", "3000000000,1,4.0,964982703\n", 7,
         "expected userId to be a 32-bit integer; got '3000000000'"),
        ("25m", "movies.csv", '"2",Jumanji (1995),Adventure,extra\n', 7,
         "expected 3 comma-separated fields movieId, title, genres; got 4"),
    ],
)  # fmt: skip
def test_a_corrupt_1m_or_csv_file_names_its_line_and_what_was_expected(tmp_path, variant, name, lines, line, expected):
    home = _extracted(tmp_path, variant, _tiny_1m_or_csv(variant, name, lines))
    path = home / _movielens._VARIANTS[variant].folder / name
    with pytest.raises(ValueError) as excinfo:
        fetch_movielens(variant, data_home=home)
    assert str(excinfo.value).startswith(f"{path} line {line}: {expected}")


@pytest.mark.parametrize("name", ["movies.csv", "ratings.csv"])
def test_a_latin1_byte_in_a_utf8_file_names_the_line_and_the_encoding(tmp_path, name):
    files = _tiny_csv_files()
    lines = files[name].split(b"\n")
    lines[3] = lines[3] + "é".encode("latin-1")  # a lone 0xe9 byte: not UTF-8
    home = _extracted(tmp_path, "latest-small", files | {name: b"\n".join(lines)})
    with pytest.raises(ValueError) as excinfo:
        fetch_movielens("latest-small", data_home=home)
    path = home / "ml-latest-small" / name
    assert str(excinfo.value).startswith(f"{path} line 4: byte 0xe9 at column ")
    assert "is not valid UTF-8; expected a UTF-8 encoded file" in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize(
    "variant, name, content, expected",
    [
        ("100k", "u.data", b"", f"holds no ratings; expected lines of {_RATING_FIELDS_100K}"),
        ("100k", "u.data", b"\n\n", f"holds no ratings; expected lines of {_RATING_FIELDS_100K}"),
        ("100k", "u1.test", b"", f"holds no ratings; expected lines of {_RATING_FIELDS_100K}"),
        ("1m", "ratings.dat", b"", "holds no ratings; expected lines of 4 '::'-separated fields user_id, movie_id,"),
        ("latest-small", "ratings.csv", b"userId,movieId,rating,timestamp\r\n",
         "holds no ratings; expected lines of 4 comma-separated fields userId, movieId, rating, timestamp after its "
         "header."),
        ("latest-small", "ratings.csv", b"", "holds no ratings; expected lines of 4 comma-separated fields"),
        ("latest-small", "movies.csv", b"movieId,title,genres\n", "holds no movies; expected lines of 3 comma-"),
    ],
)  # fmt: skip
def test_a_file_without_rows_raises_valueerror_naming_it(
    tmp_path, tiny_movielens_files, variant, name, content, expected
):
    files = {"100k": tiny_movielens_files, "1m": _tiny_1m_files()}.get(variant) or _tiny_csv_files()
    home = _extracted(tmp_path, variant, files | {name: content})
    with pytest.raises(ValueError) as excinfo:
        _fetch(variant, name, home)
    assert str(excinfo.value).startswith(f"{home / _movielens._VARIANTS[variant].folder / name} {expected}")


def test_a_bad_u_genre_line_names_its_line(tmp_path, tiny_movielens_files):
    files = tiny_movielens_files | {"u.genre": b"unknown|0\nAction\n"}
    home = _extracted(tmp_path, "100k", files)
    with pytest.raises(ValueError) as excinfo:
        fetch_movielens(data_home=home)
    expected = "line 2: expected a genre name and its index separated by '|', such as 'Action|1'; got 'Action'."
    assert str(excinfo.value) == f"{home / 'ml-100k' / 'u.genre'} {expected}"


def test_a_missing_file_still_raises_filenotfounderror(tmp_path, tiny_movielens_files):
    files = dict(tiny_movielens_files)
    del files["u.item"]
    home = _extracted(tmp_path, "100k", files)
    with pytest.raises(FileNotFoundError, match=re.escape(str(home / "ml-100k" / "u.item"))):
        fetch_movielens(data_home=home)


# --------------------------------------------------------------------------------------------
# Public surface
# --------------------------------------------------------------------------------------------


def test_public_names_exist_and_are_documented():
    assert skrec.datasets.__all__ == ["fetch_movielens", "fetch_movielens_fold", "get_data_home", "make_interactions"]
    for name in skrec.datasets.__all__:
        assert getattr(skrec.datasets, name).__doc__


def test_import_does_not_import_keras():
    code = "import skrec.datasets, sys; assert 'keras' not in sys.modules, 'keras imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


# --------------------------------------------------------------------------------------------
# The real MovieLens 100k (SKREC_DATA)
# --------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_movielens_counts_and_dtypes(movielens_home):
    ml = fetch_movielens(data_home=movielens_home, download_if_missing=False)
    assert ml.ratings.shape == (100_000, 4) and ml.users.shape == (943, 5) and ml.movies.shape == (1682, 6)
    assert ml.ratings.dtypes.astype(str).to_dict() == RATING_DTYPES
    assert ml.ratings["user_id"].nunique() == 943 and ml.ratings["movie_id"].nunique() == 1682
    assert sorted(ml.ratings["rating"].unique()) == [1, 2, 3, 4, 5]
    assert ml.ratings.iloc[0].tolist() == [196, 242, 3, 881250949]
    assert len(ml.users["occupation"].cat.categories) == 21
    assert ml.users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    movies = ml.movies.set_index("movie_id")
    assert movies.loc[1633, "title"] == "Á köldum klaka (Cold Fever) (1994)"
    assert ml.movies["release_date"].isna().sum() == 1
    assert (ml.movies["genres"] != "").all()
    assert ml.movies["genres"].str.get_dummies("|").shape == (1682, 19)


@pytest.mark.realdata
@pytest.mark.parametrize("fold, sizes", [(f"u{i}", (80_000, 20_000)) for i in range(1, 6)] + [("ua", (90_570, 9_430))])
def test_real_movielens_folds(movielens_home, fold, sizes):
    train, test = fetch_movielens_fold(fold, data_home=movielens_home, download_if_missing=False)
    assert (len(train), len(test)) == sizes
    assert train.dtypes.astype(str).to_dict() == RATING_DTYPES
    pairs = lambda frame: set(zip(frame["user_id"], frame["movie_id"]))  # noqa: E731
    assert not pairs(train) & pairs(test)


@pytest.mark.realdata
def test_real_movielens_test_sets_of_u1_to_u5_partition_the_ratings(movielens_home):
    ratings = fetch_movielens(data_home=movielens_home, download_if_missing=False).ratings
    tests = [fetch_movielens_fold(f"u{i}", data_home=movielens_home)[1] for i in range(1, 6)]
    key = ["user_id", "movie_id"]
    np.testing.assert_array_equal(
        pd.concat(tests).sort_values(key).to_numpy(), ratings.sort_values(key).to_numpy()
    )


# Published counts (GroupLens READMEs): ratings, users, rows of the movie file.
_PUBLISHED = {
    "1m": (1_000_209, 6_040, 3_883),
    "20m": (20_000_263, 138_493, 27_278),
    "25m": (25_000_095, 162_541, 62_423),
    "latest-small": (100_836, 610, 9_742),
}


@pytest.mark.realdata
@pytest.mark.parametrize("variant", list(_PUBLISHED))
def test_real_release_counts(variant):
    data_home = os.environ.get("SKREC_DATA")
    folder = _movielens._VARIANTS[variant].folder
    if not data_home or not (Path(data_home).expanduser() / folder).is_dir():
        pytest.skip(f"$SKREC_DATA holds no extracted {folder}/")
    ml = fetch_movielens(variant, data_home=data_home, download_if_missing=False)
    n_ratings, n_users, n_movies = _PUBLISHED[variant]
    assert (len(ml.ratings), ml.ratings["user_id"].nunique(), len(ml.movies)) == (n_ratings, n_users, n_movies)
    assert list(ml.movies.columns) == COMMON_MOVIE_COLUMNS and not ml.movies["movie_id"].duplicated().any()
    assert ml.users is None or len(ml.users) == n_users
