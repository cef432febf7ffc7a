"""Every bound on what qa reads from one file, in one place. Past one, the file is refused or
read only up to it, and a warning names the bound and the file."""

from __future__ import annotations

# A real Office file or e-book unpacks to tens of megabytes at most; a zip bomb to gigabytes.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
# Office XML packs about 10:1; far more than that, unpacking to more than 64 MB, is a bomb.
SUSPICIOUS_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100


def most_unpacked(packed: int) -> int:
    """The most bytes an archive of `packed` compressed bytes may unpack to: counted as they are
    inflated, since a zip's headers may say less than its parts hold."""
    return min(MAX_UNPACKED_BYTES, max(SUSPICIOUS_UNPACKED_BYTES, MAX_COMPRESSION_RATIO * packed))


# The rows read of one spreadsheet (all its sheets) or CSV file: past them a file is a data dump,
# each row a passage of its own, and would take hours to embed.
MAX_SPREADSHEET_ROWS = 100_000
# The pages read of one PDF: the longest reports and manuals have fewer; a generated file of
# near-empty pages may have millions.
MAX_PDF_PAGES = 10_000
# The characters kept of one file's text, whatever its format: a long book holds fewer; a log or
# a dump of gigabytes would take days to embed.
MAX_FILE_CHARS = 10_000_000
# The bytes read of a file read whole (text, Markdown, CSV, web pages): no character takes more
# than four, so the text past them would be cut anyway.
MAX_TEXT_FILE_BYTES = 4 * MAX_FILE_CHARS

ROWS_CUT = (
    f"read its first {MAX_SPREADSHEET_ROWS:,} rows, the most qa reads from one spreadsheet; "
    "the rest is left out"
)
CHARS_CUT = (
    f"read its first {MAX_FILE_CHARS:,} characters, the most qa reads from one file; "
    "the rest is left out"
)


def pages_cut(pages: int) -> str:
    return (
        f"read its first {MAX_PDF_PAGES:,} of {pages:,} pages, the most qa reads from one PDF; "
        "the rest is left out"
    )
