"""Where skrec keeps downloaded data sets, what to download, and how to download and unpack it safely.

Downloading is delegated to :func:`sklearn.datasets.fetch_file`, which writes into a temporary
file, verifies the SHA-256 checksum, retries on network errors and moves the finished file into
place in one step. This module adds the skrec data folder (``SKREC_DATA``), error messages that
tell the user what to do, and a zip extraction that refuses members which would land outside the
target folder and that never leaves a half-extracted folder behind.
"""

import logging
import os
import shutil
import tempfile
import zipfile
from collections import namedtuple
from pathlib import Path

from sklearn.datasets import fetch_file

__all__ = ["get_data_home"]

logger = logging.getLogger(__name__)

RemoteFileMetadata = namedtuple("RemoteFileMetadata", ["filename", "url", "checksum"])
RemoteFileMetadata.__doc__ = """A file to download: its local name, its URL and its SHA-256 (hex)."""

# The official MovieLens 100k archive from GroupLens (https://grouplens.org/datasets/movielens/100k/),
# 4,924,029 bytes. The SHA-256 was computed once from that file; a different file is rejected.
MOVIELENS_100K = RemoteFileMetadata(
    filename="ml-100k.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    checksum="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
)

# The other official GroupLens archives (https://grouplens.org/datasets/movielens/), pinned to the
# SHA-256 and sizes GroupLens publishes for them. "latest-small" is a development set that
# GroupLens may replace: the pin keeps it the September 2018 release (a newer file is rejected).
MOVIELENS_1M = RemoteFileMetadata(  # 5,917,549 bytes
    filename="ml-1m.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    checksum="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
)
MOVIELENS_20M = RemoteFileMetadata(  # 198,702,078 bytes
    filename="ml-20m.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-20m.zip",
    checksum="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
)
MOVIELENS_25M = RemoteFileMetadata(  # 261,978,986 bytes
    filename="ml-25m.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-25m.zip",
    checksum="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
)
MOVIELENS_LATEST_SMALL = RemoteFileMetadata(  # 978,202 bytes
    filename="ml-latest-small.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    checksum="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
)


def get_data_home(data_home=None):
    """Return the path of the skrec data folder, creating it if needed.

    Downloaded data sets are kept there so that they are fetched only once. The folder is, in
    order of preference: ``data_home`` when given, the ``SKREC_DATA`` environment variable when
    set, else ``~/skrec_data``. A leading ``~`` is expanded to the user's home folder.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. ``None`` uses ``$SKREC_DATA``, else ``~/skrec_data``.

    Returns
    -------
    data_home : str
        The path of the data folder, which exists when this function returns.

    See Also
    --------
    fetch_movielens : Load MovieLens, downloading it into this folder if needed.

    Examples
    --------
    >>> import os, tempfile
    >>> from skrec.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     home = get_data_home(os.path.join(tmp, "skrec_data"))
    ...     print(os.path.basename(home), os.path.isdir(home))
    skrec_data True
    """
    if data_home is None:
        data_home = os.environ.get("SKREC_DATA", os.path.join("~", "skrec_data"))
    elif not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(
            f"The 'data_home' parameter must be a str, a path-like object or None. "
            f"Got {data_home!r} of type {type(data_home).__name__} instead."
        )
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


def _download(remote, data_home, *, n_retries, delay, help_text):
    """Download ``remote`` into ``data_home``, checksum verified; return the file's path.

    Any failure (network, HTTP status, truncated transfer, checksum mismatch) is re-raised as an
    ``OSError`` naming the URL and ending with ``help_text``, which says how to install the data
    by hand. :func:`sklearn.datasets.fetch_file` has already removed its temporary file by then,
    so nothing partial is left in ``data_home``.
    """
    logger.info("Downloading %s into %s", remote.url, data_home)
    try:
        return Path(
            fetch_file(
                remote.url,
                folder=data_home,
                local_filename=remote.filename,
                sha256=remote.checksum,
                n_retries=n_retries,
                delay=delay,
            )
        )
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
        raise OSError(f"Downloading {remote.url} failed ({reason}). {help_text}") from exc


def _check_members(archive, root):
    """Raise ``OSError`` if a member of the zip file would be written outside ``root``."""
    root = Path(root).resolve()
    for name in archive.namelist():
        target = (root / name).resolve()
        # Absolute names, drive letters and ".." parts all resolve to somewhere outside root.
        if os.path.isabs(name) or not target.is_relative_to(root):
            raise OSError(
                f"Refusing to extract {archive.filename}: its member {name!r} would be written "
                f"outside {root}. The archive is corrupt or has been tampered with."
            )


def _extract_folder(archive_path, data_home, folder, *, marker):
    """Extract ``folder/`` of a zip file to ``data_home/folder``, all or nothing.

    The whole archive is first checked (see :func:`_check_members`), then extracted into a
    temporary folder inside ``data_home``, and ``folder`` is renamed into place in one step, so an
    interrupted or failed extraction leaves no half folder. ``marker`` is a file that must exist
    in ``folder``. Returns the final path.
    """
    destination = Path(data_home) / folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.part_", dir=data_home))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                _check_members(archive, tmp)
                logger.info("Extracting %s into %s", archive_path, destination)
                archive.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise OSError(f"{archive_path} is not a valid zip file: {exc}.") from exc
        if not (tmp / folder / marker).is_file():
            raise OSError(f"The archive {archive_path} holds no file {folder}/{marker}.")
        try:
            os.replace(tmp / folder, destination)
        except OSError as exc:
            # Another process may have finished the same extraction first: its copy is whole.
            if not (destination / marker).is_file():
                raise OSError(
                    f"Cannot move the extracted data to {destination} ({exc}). If that folder is "
                    f"an incomplete copy, remove it and try again."
                ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return destination


def _fetch_folder(remote, data_home, folder, *, marker, n_retries, delay, help_text):
    """Download the zip file ``remote`` and extract its ``folder/`` into ``data_home``.

    The archive is deleted afterwards, whether extraction worked or not, so ``data_home`` holds
    either the complete extracted folder or nothing new. Returns the folder's path.
    """
    archive_path = _download(remote, data_home, n_retries=n_retries, delay=delay, help_text=help_text)
    try:
        return _extract_folder(archive_path, data_home, folder, marker=marker)
    finally:
        archive_path.unlink(missing_ok=True)
