"""Per-image attributes from a table beside an image folder: CelebA's ``list_attr_celeba.txt`` (a count, a line of
attribute names, then a file name and a value per attribute on each line, 1 or −1) or a CSV whose first column names
the file and whose other columns hold numbers (the same table as ``list_attr_celeba.csv``, or your own).

    celeba/
      img_align_celeba/000001.jpg ...
      list_attr_celeba.txt            ← found beside the folder (or inside it)

A row names its file as the folder's listing does (``000001.jpg``, or ``smiling/000001.jpg`` under class folders), or
by its base name alone, or with a folder of its own in front (``img_align_celeba/000001.jpg``).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .images import DataError

__all__ = ["AttributeTable", "read_table", "find_table", "TABLE_NAMES"]

TABLE_NAMES = ("list_attr_celeba.txt", "list_attr_celeba.csv", "attributes.csv", "attributes.txt")


@dataclass
class AttributeTable:
    """``columns`` (the attributes' names) and, per file name, a value for each."""

    path: Path
    columns: list[str]
    rows: dict[str, list[float]]

    def index(self, name: str) -> int:
        """The column of attribute ``name``; DataError (with the close name, if any) where the table has none."""
        if name not in self.columns:
            close = [c for c in self.columns if c.lower() == name.lower()]
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise DataError(f"{self.path.name} has no attribute {name!r}; {hint}it has "
                            f"{', '.join(self.columns[:12])}{' ...' if len(self.columns) > 12 else ''}")
        return self.columns.index(name)

    def column(self, name: str, files: list[str]) -> Tensor:
        """(N,) float64: attribute ``name`` of each of ``files`` (NaN where the table has no row for the file)."""
        k = self.index(name)
        by_name = {Path(f).name: row for f, row in self.rows.items()}  # a row that names its file with a folder
        out = []
        for f in files:
            row = self.rows.get(f) or by_name.get(Path(f).name)
            out.append(row[k] if row is not None else math.nan)
        return torch.tensor(out, dtype=torch.float64)


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}, line {line}: {column} is {text!r}, not a number; an attribute table holds a file "
                        "name and then numbers (1 / −1, 1 / 0, or any measure)") from None


def read_table(path: str | Path) -> AttributeTable:
    """The attribute table in ``path`` (CelebA's text layout or a CSV); one :class:`DataError` line where it is not
    one."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"attribute table {path} does not exist; give CelebA's list_attr_celeba.txt or a CSV whose "
                        "first column names the image file and the others hold its attributes")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the attribute table {path} ({e}); it must be a text file") from None
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DataError(f"attribute table {path} is empty")
    if "," in lines[first]:  # a CSV: a header, then file, values
        records = list(csv.reader(lines[first:]))
        header, body, offset = [h.strip() for h in records[0]], records[1:], first + 2
        columns = header[1:]
    else:  # CelebA's layout: [a count,] the names, then file and values separated by spaces
        head = lines[first].split()
        if len(head) == 1 and head[0].isdigit():
            first += 1
        columns = lines[first].split() if first < len(lines) else []
        body, offset = [line.split() for line in lines[first + 1:]], first + 2
    if not columns:
        raise DataError(f"attribute table {path} names no attributes: its first line (after CelebA's count) must name "
                        "them")
    rows: dict[str, list[float]] = {}
    for i, rec in enumerate(body):
        if not rec or not "".join(rec).strip():
            continue
        values = rec[1:]
        if len(values) != len(columns):
            raise DataError(f"{path}, line {offset + i}: {len(values)} values for {len(columns)} attributes "
                            f"({', '.join(columns[:3])}{' ...' if len(columns) > 3 else ''})")
        rows[rec[0].strip()] = [_number(v, path, offset + i, c) for v, c in zip(values, columns)]
    if not rows:
        raise DataError(f"attribute table {path} has no rows after its header")
    return AttributeTable(path, columns, rows)


def find_table(folder: str | Path) -> Path | None:
    """An attribute table inside the image folder or beside it (its parent), by the names in :data:`TABLE_NAMES`."""
    folder = Path(folder).expanduser()
    for where in (folder, folder.parent):
        for name in TABLE_NAMES:
            if (where / name).is_file():
                return where / name
    return None
