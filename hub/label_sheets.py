"""The A4 sheets of shelf labels on the hub's disk, as managers download them.

A label printer of the office kind writes each print run as a PDF into one folder (the
hub's state folder + ``label-sheets``, ``StoreHubConfig.label_sheets_dir``); managers
list and download them over REST.  Only a plain file name that lies in that folder is
served: no path, no dot-file, no symbolic link out of it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from bus.payloads import ErrorCode
from hub.store.errors import StoreError, not_found
from hub.store.schemas import LabelSheet, LabelSheets

#: What a sheet's name may be: a plain file name ending in .pdf, no folder, no leading dot.
SHEET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.pdf$")

#: The listing's longest page: sheets are pruned by people, a folder may grow.
MAX_SHEETS_LISTED = 500


def list_sheets(folder: Path) -> LabelSheets:
    """The sheets in ``folder``, newest first; none when it does not exist yet."""
    if not folder.is_dir():
        return LabelSheets(sheets=[])
    sheets = []
    for path in folder.iterdir():
        if SHEET_NAME.match(path.name) and path.is_file() and not path.is_symlink():
            stat = path.stat()
            sheets.append(
                LabelSheet(
                    name=path.name, bytes=stat.st_size, written_at=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
                )
            )
    sheets.sort(key=lambda sheet: (sheet.written_at, sheet.name), reverse=True)
    return LabelSheets(sheets=sheets[:MAX_SHEETS_LISTED])


def sheet_path(folder: Path, name: str) -> Path:
    """The file of the sheet ``name`` in ``folder``: ``invalid_request`` (400) for a name
    that is not a plain sheet name, ``not_found`` (404) for one that is not there."""
    if not SHEET_NAME.match(name):
        raise StoreError(
            ErrorCode.INVALID_REQUEST,
            f"{name[:80]!r} is not a label sheet's name (a file name ending .pdf)",
            field="name",
        )
    path = folder / name
    if not path.is_file() or path.is_symlink() or path.resolve().parent != folder.resolve():
        raise not_found("label sheet", name, field="name")
    return path
