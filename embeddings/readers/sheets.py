"""Spreadsheets (.xlsx with openpyxl, .csv): each row read with its header cells
(「指标: GDP; 2019: 4127亿元」), located by sheet and row number as the spreadsheet shows them."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from embeddings import bounds
from embeddings.decoding import decode, head_bytes
from embeddings.readers.base import (
    Block,
    Extracted,
    PageProgress,
    UnreadableFile,
    guard_zip,
    labelled_row,
)
from embeddings.records import Location


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return " ".join(str(value).split())


class _RowBudget:
    """The rows a file's sheets may still give (bounds.MAX_SPREADSHEET_ROWS), and whether some
    were left out."""

    def __init__(self) -> None:
        self.left = bounds.MAX_SPREADSHEET_ROWS
        self.cut = False

    def take(self, rows: Iterable) -> Iterator:
        for row in rows:
            if self.left == 0:
                self.cut = True
                return
            self.left -= 1
            yield row

    def warnings(self) -> list[str]:
        return [bounds.ROWS_CUT] if self.cut else []


def _rows_as_blocks(rows, sheet: str | None) -> list[Block]:
    """The first row with any value is the header; every later row is labelled with it."""
    header = None
    blocks = []
    for number, values in rows:
        cells = [_cell_text(v) for v in values]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        blocks.append(Block(labelled_row(cells, header), Location(sheet=sheet, row=number)))
    if header is not None and not blocks:  # a sheet that is only a header still says something
        blocks.append(Block(" | ".join(c for c in header if c), Location(sheet=sheet, row=1)))
    return blocks


def read_xlsx(path: Path, progress: PageProgress | None = None) -> Extracted:
    import openpyxl

    guard_zip(path, "Excel workbook").close()
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, lxml errors…
        raise UnreadableFile(
            f"not a readable Excel workbook ({type(exc).__name__}: {exc})"
        ) from None
    blocks: list[Block] = []
    budget = _RowBudget()
    try:
        names = book.sheetnames
        for n, name in enumerate(names, start=1):
            rows = enumerate(book[name].iter_rows(values_only=True), start=1)
            blocks += _rows_as_blocks(budget.take(rows), name)
            if progress:
                progress(n, len(names))
    finally:
        book.close()
    if not blocks:
        raise UnreadableFile("no values in any sheet")
    return Extracted(blocks, "xlsx", title=path.stem, warnings=budget.warnings())


def read_csv(path: Path, progress: PageProgress | None = None) -> Extracted:
    data, cut = head_bytes(path)
    text = decode(data, str(path))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    budget = _RowBudget()
    rows = enumerate(csv.reader(io.StringIO(text), dialect), start=1)
    blocks = _rows_as_blocks(budget.take(rows), None)
    if progress:
        progress(1, 1)
    if not blocks:
        raise UnreadableFile("no values in the file")
    warnings = budget.warnings() + ([bounds.CHARS_CUT] if cut else [])
    return Extracted(blocks, "csv", title=path.stem, warnings=warnings)
