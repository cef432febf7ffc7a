import sys
from pathlib import Path

import pytest

from embeddings.decoding import decode
from embeddings.errors import QAError
from embeddings.loading import load_documents

TRADITIONAL = "鎮江是國家低碳試點城市。聯合國氣候變化大會在巴黎舉行，臺灣代表也出席了會議。"
SIMPLIFIED = "镇江是国家低碳试点城市。联合国气候变化大会在巴黎举行，代表团出席了会议。"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", TRADITIONAL),
        ("utf-8-sig", TRADITIONAL),
        ("gb18030", SIMPLIFIED),
        ("big5", TRADITIONAL),
    ],
)
def test_each_encoding_is_detected_from_a_real_file(tmp_path, encoding, text):
    path = tmp_path / f"doc-{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    loaded = load_documents([path])
    assert loaded.skipped == []
    assert loaded.documents[0].text == text
    assert loaded.documents[0].doc_id == f"doc-{encoding}"


def test_folders_are_read_recursively_with_paths_as_doc_ids(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "note.md").write_text("# 標題\n\n正文內容。", encoding="utf-8")
    (tmp_path / "top.txt").write_text("Top level text.", encoding="utf-8")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF-1.4")
    loaded = load_documents([tmp_path])
    by_id = {d.doc_id: d for d in loaded.documents}
    assert set(by_id) == {"a/b/note", "top"}
    assert by_id["a/b/note"].title == "標題"


def test_binary_empty_and_undecodable_files_are_skipped_with_their_reason(tmp_path):
    (tmp_path / "good.txt").write_text("好的文件。", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "empty.txt").write_bytes(b"   \n\n")
    (tmp_path / "garbage.txt").write_bytes(b"\xff\xfe\xfa\xfb" * 50)
    loaded = load_documents([tmp_path])
    assert [d.doc_id for d in loaded.documents] == ["good"]
    reasons = {Path(path).name: why for path, why in loaded.skipped}
    assert reasons == {
        "binary.txt": "binary file",
        "empty.txt": "empty file",
        "garbage.txt": "not UTF-8, UTF-16/32 (with a byte-order mark), GB18030 or Big5 text",
    }


def test_a_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(QAError, match="no such file or folder"):
        load_documents([tmp_path / "nope"])


def test_decode_prefers_utf8_and_strips_the_bom():
    assert decode("\ufeff鎮江".encode()) == "鎮江"


# Issue 11's loading gaps.

PARAGRAPH = "鎮江是國家低碳試點城市，提出2020年實現碳峰值。" * 4


def test_a_few_damaged_bytes_are_replaced_with_a_warning_not_a_lost_file(tmp_path):
    cuts = [0, 10, 30, 50, 70, len(PARAGRAPH)]  # four bad bytes between characters
    pieces = [PARAGRAPH[a:b].encode() for a, b in zip(cuts, cuts[1:], strict=False)]
    damaged = b"\xff".join(pieces)
    (tmp_path / "damaged.txt").write_bytes(damaged)
    loaded = load_documents([tmp_path])
    assert [d.doc_id for d in loaded.documents] == ["damaged"]
    assert "實現碳峰值" in loaded.documents[0].text
    [(path, what)] = loaded.warnings
    assert path.endswith("damaged.txt") and what.startswith("4 undecodable")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, encoding):
    import codecs

    marks = {"utf-16-be": codecs.BOM_UTF16_BE, "utf-32-be": codecs.BOM_UTF32_BE}
    (tmp_path / "wide.txt").write_bytes(marks.get(encoding, b"") + PARAGRAPH.encode(encoding))
    loaded = load_documents([tmp_path])
    assert loaded.skipped == [] and loaded.documents[0].text == PARAGRAPH


def test_a_symlink_loop_and_a_broken_link_are_warned_and_skipped(tmp_path):
    (tmp_path / "docs" / "inner").mkdir(parents=True)
    (tmp_path / "docs" / "inner" / "a.txt").write_text("好的文件。", encoding="utf-8")
    (tmp_path / "docs" / "inner" / "loop").symlink_to(tmp_path / "docs")
    (tmp_path / "docs" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    loaded = load_documents([tmp_path / "docs"])
    assert [d.doc_id for d in loaded.documents] == ["inner/a"]
    whats = {Path(path).name: what for path, what in loaded.warnings}
    assert "loop" in whats["loop"] and "broken" in whats["gone.txt"]


def test_an_unreadable_folder_is_warned(tmp_path):
    import os

    locked = tmp_path / "docs" / "locked"
    locked.mkdir(parents=True)
    (tmp_path / "docs" / "a.txt").write_text("好的文件。", encoding="utf-8")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("this user reads any folder (root)")
        loaded = load_documents([tmp_path / "docs"])
    finally:
        locked.chmod(0o755)
    assert [d.doc_id for d in loaded.documents] == ["a"]
    assert any(Path(path).name == "locked" for path, _ in loaded.warnings)


# Issue 35's loading probes.


def _links_in_and_out(tmp_path: Path) -> Path:
    """docs/ holding a file, a link to it (read once, under its own name), and links to a file
    and a folder outside docs/."""
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "secret.txt").write_text("保险柜密码是四二七一。", encoding="utf-8")
    (outside / "private" / "diary.txt").write_text("今天的日记不给别人看。", encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "inner").mkdir(parents=True)
    (docs / "inner" / "a.txt").write_text("好的文件。", encoding="utf-8")
    (docs / "alias.txt").symlink_to(docs / "inner" / "a.txt")
    (docs / "secret.txt").symlink_to(outside / "secret.txt")
    (docs / "private").symlink_to(outside / "private")
    return docs


def test_a_link_out_of_the_folder_given_is_skipped_with_a_warning(tmp_path):
    docs = _links_in_and_out(tmp_path)
    loaded = load_documents([docs])
    assert sorted(d.doc_id for d in loaded.documents) == ["inner/a"]
    assert sorted(loaded.warnings) == [
        (
            str(docs / "private"),
            f"skipped: a link to a folder outside the folder given ({tmp_path / 'outside' / 'private'})",
        ),
        (
            str(docs / "secret.txt"),
            f"skipped: a link to a file outside the folder given ({tmp_path / 'outside' / 'secret.txt'})",
        ),
    ]
    followed = load_documents([docs], follow_links=True)
    assert {"secret", "private/diary"} <= {d.doc_id for d in followed.documents}
    assert followed.warnings == []


def test_qa_index_reads_a_link_out_of_the_folder_only_when_told_to(tmp_path):
    import subprocess
    import sys

    docs = _links_in_and_out(tmp_path)

    def dry_run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "qa", "index", "--dry-run", str(docs), *flags],
            capture_output=True,
            text=True,
            timeout=120,
        )

    kept_in = dry_run()
    assert "四二七一" not in kept_in.stdout and "日记" not in kept_in.stdout
    assert "好的文件" in kept_in.stdout
    assert (
        f"warning: {docs / 'secret.txt'}: skipped: a link to a file outside the folder given "
        f"({tmp_path / 'outside' / 'secret.txt'})"
    ) in kept_in.stderr.splitlines()
    assert kept_in.returncode == 3
    followed = dry_run("--follow-links")
    assert "四二七一" in followed.stdout and "日记" in followed.stdout
    assert followed.returncode == 0, followed.stderr


def test_an_index_holds_what_a_link_out_of_the_folder_leads_to_only_when_told_to(
    tmp_path, embedder
):
    from embeddings.indexer import build_index
    from embeddings.store import IndexStore

    docs = _links_in_and_out(tmp_path)
    report = build_index(tmp_path / "ix", [docs], embedder=embedder)
    assert {Path(path).name for path, _ in report.warnings} == {"secret.txt", "private"}
    assert set(IndexStore.open(tmp_path / "ix").manifest.documents) == {"inner/a"}
    build_index(tmp_path / "ix", [docs], embedder=embedder, follow_links=True)
    held = IndexStore.open(tmp_path / "ix").manifest.documents
    assert {"secret", "private/diary"} <= set(held)


def test_qa_index_with_no_path_reads_the_folders_it_was_given_by_the_same_link_rule(
    tmp_path, embedder
):
    """A run given no path reads the recorded folders again: a link out of them is still
    skipped with its warning, and read only when follow_links says so."""
    from embeddings.indexer import build_index
    from embeddings.store import IndexStore

    docs = _links_in_and_out(tmp_path)
    build_index(tmp_path / "ix", [docs], embedder=embedder)
    report = build_index(tmp_path / "ix", [], embedder=embedder)
    assert {Path(path).name for path, _ in report.warnings} == {"secret.txt", "private"}
    assert set(IndexStore.open(tmp_path / "ix").manifest.documents) == {"inner/a"}
    build_index(tmp_path / "ix", [], embedder=embedder, follow_links=True)
    held = IndexStore.open(tmp_path / "ix").manifest.documents
    assert {"secret", "private/diary"} <= set(held)


def test_a_stray_nul_byte_is_dropped_with_a_warning_not_the_whole_file(tmp_path):
    text = ("镇江是国家低碳试点城市，提出2020年实现碳峰值。" * 70)[:1500]
    data = text.encode()
    middle = len(text[:700].encode())
    (tmp_path / "nul.txt").write_bytes(data[:middle] + b"\x00" + data[middle:])
    (tmp_path / "bell.txt").write_bytes(b"\x07" + data + b"\x1b\x00")
    loaded = load_documents([tmp_path])
    assert loaded.skipped == []
    assert [d.text for d in loaded.documents] == [text, text]
    assert sorted(loaded.warnings) == [
        (str(tmp_path / "bell.txt"), "3 NUL/control byte(s) dropped"),
        (str(tmp_path / "nul.txt"), "1 NUL/control byte(s) dropped"),
    ]


def test_a_program_named_as_text_is_still_binary(tmp_path):
    (tmp_path / "python.txt").write_bytes(Path(sys.executable).resolve().read_bytes()[:65536])
    loaded = load_documents([tmp_path])
    assert loaded.skipped == [(str(tmp_path / "python.txt"), "binary file")]
