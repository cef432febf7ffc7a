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
