"""skrec.datasets: parsing, the data folder, safe download and extraction, and the real files.

Everything except the ``realdata`` tests runs offline: downloads come from a real HTTP server on
127.0.0.1 serving a tiny MovieLens-format zip built in the test.
"""

import hashlib
import io
import logging
import os
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


def _serve(monkeypatch, server, body, *, checksum=None, declared_length=None, path="/ml-100k.zip"):
    """Serve ``body`` at ``path`` and point MovieLens 100k's URL and checksum at it."""
    server.routes[path] = (body, len(body) if declared_length is None else declared_length)
    remote = _base.RemoteFileMetadata(
        filename="ml-100k.zip",
        url=server.base_url + path,
        checksum=hashlib.sha256(body).hexdigest() if checksum is None else checksum,
    )
    monkeypatch.setitem(_movielens._VARIANTS, "100k", (remote, "ml-100k", "movielens_100k.rst"))
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
    assert list(ml.movies.columns) == ["movie_id", "title", "release_date", "imdb_url", "genres"]
    assert ml.movies["movie_id"].dtype == "int64"
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


@pytest.mark.parametrize("variant", ["1m", "100K", 100, None])
def test_bad_variant_raises_valueerror_naming_the_allowed_values(variant, tiny_movielens_home):
    msg = f"The 'variant' parameter of fetch_movielens must be a str among {{'100k'}}. Got {variant!r} instead."
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("{", r"\{")):
        fetch_movielens(variant, data_home=tiny_movielens_home)


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
    assert ml.ratings.shape == (100_000, 4) and ml.users.shape == (943, 5) and ml.movies.shape == (1682, 5)
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
