"""Put the real documents of bench/data/real_docs_manifest.json into bench/data/real_docs/.

Run: python bench/real_docs_fetch.py [--mirrors DIR]
Each file is read from a local copy of its repository at the manifest's commit (a git directory
DIR/owner+name/repo, as the workplace mirror keeps them, or a clone DIR/owner+name), a zip member
taken out where the manifest names one, and written only when its sha256 is the manifest's. The
files are other projects' work: they are fetched, never committed (bench/data/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
MANIFEST = DATA / "real_docs_manifest.json"
FOLDER = DATA / "real_docs"
MIRRORS = Path("/work/.mirror")


def manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]


def git_dir(mirrors: Path, repository: str) -> Path | None:
    """The repository's git directory under `mirrors`, bare mirror or clone; None if neither."""
    base = mirrors / repository.replace("/", "+")
    for candidate in (base / "repo", base / ".git", base):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def zip_member(archive: bytes, wanted: str) -> bytes | None:
    """A member by name; names a zip stored without its UTF-8 flag are read as GBK, as Chinese
    Windows writes them."""
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for info in bundle.infolist():
            name = info.filename
            if not info.flag_bits & 0x800:
                name = name.encode("cp437").decode("gbk", errors="replace")
            if name == wanted:
                return bundle.read(info)
    return None


def read_blob(git: Path, commit: str, path: str) -> bytes | None:
    shown = subprocess.run(
        ["git", "--git-dir", str(git), "show", f"{commit}:{path}"], capture_output=True
    )
    return shown.stdout if shown.returncode == 0 else None


def how_to_get(entry: dict) -> str:
    member = f", member {entry['member']}" if entry.get("member") else ""
    return (
        f"clone https://github.com/{entry['repository']} and take {entry['path']}{member} at "
        f"commit {entry['commit'][:12]} (or run with --mirrors pointing at such a clone)"
    )


def fetch_one(entry: dict, mirrors: Path) -> str | None:
    """Write the file; None when it is in place, else one line saying what is missing."""
    target = FOLDER / entry["name"]
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"]:
        return None
    git = git_dir(mirrors, entry["repository"])
    if git is None:
        return f"{entry['name']}: no copy of {entry['repository']} under {mirrors}; {how_to_get(entry)}"
    data = read_blob(git, entry["commit"], entry["path"])
    if data is None:
        return f"{entry['name']}: {git} lacks {entry['path']} at that commit; {how_to_get(entry)}"
    if entry.get("member"):
        data = zip_member(data, entry["member"])
        if data is None:
            return f"{entry['name']}: the zip has no member {entry['member']}; {how_to_get(entry)}"
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return f"{entry['name']}: the copy found differs from the manifest's (sha256); {how_to_get(entry)}"
    FOLDER.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirrors", type=Path, default=MIRRORS, help="folder of repository copies")
    args = parser.parse_args()
    entries = manifest()
    missing = [line for entry in entries if (line := fetch_one(entry, args.mirrors))]
    for line in missing:
        print(line, file=sys.stderr)
    print(f"{len(entries) - len(missing)} of {len(entries)} files in {FOLDER}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
