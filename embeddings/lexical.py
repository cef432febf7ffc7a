"""BM25 over jieba search-mode tokens of the matching form, so 鎮江 and 镇江 are one term.

Tokens come from rjieba, jieba's algorithm and dictionary compiled in Rust: the same tokens as
jieba's cut_for_search, loaded in a tenth of the time, which matters on every `qa ask`. bm25s
(Lucene's BM25 variant) builds the index: it computes every token's BM25 weight in every chunk
and saves them as a sparse matrix of plain numpy arrays beside the FAISS file. A question's
score for a chunk is then the sum of its tokens' weights there, which is all bm25s does at
query time too; reading the arrays with numpy keeps bm25s's import of scipy (a third of a
second) off every question.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from tokenize import TokenError

import numpy as np

from embeddings.cleaning import matching_form

# v2: each chunk's tokens include its document's title (embeddings/indexer.py tokenized_text)
TOKENIZER_VERSION = 2
_NOT_A_TERM = re.compile(r"^[\W_]+$")
_ARRAYS = ("weights", "chunks", "starts")


def tokenize(text: str) -> list[str]:
    import rjieba

    return [t for t in rjieba.cut_for_search(matching_form(text)) if not _NOT_A_TERM.match(t)]


def tagged(text: str) -> list[tuple[str, str]]:
    """jieba's words and part-of-speech tags (rjieba: the same dictionary and HMM, in Rust): the
    one tagger of qa, for question analysis, the support check's names and chat follow-ups."""
    import rjieba

    return rjieba.tag(text)


class LexicalDamage(ValueError):
    """A file of a BM25 index folder that cannot be what `save` wrote."""

    def __init__(self, file: str, reason: str):
        super().__init__(reason)
        self.file = file


def _highest_weight(chunk_count: int) -> float:
    """Above any BM25 weight of bm25s's defaults (k1 1.5): its term-frequency part stays below
    k1 + 1 and its IDF below that of a word no chunk holds."""
    return 2.5 * math.log(1 + (chunk_count + 0.5) / 0.5)


class LexicalIndex:
    """BM25 scores of one query against every chunk, positions as in the FAISS index."""

    def __init__(self, weights, chunks, starts, vocab: dict[str, int], chunk_count: int):
        # column-compressed: the weights of token t are weights[starts[t]:starts[t + 1]], in
        # the chunks at the same positions of `chunks`
        self._weights, self._chunks, self._starts = weights, chunks, starts
        self._vocab, self._chunk_count = vocab, chunk_count

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        import bm25s

        model = bm25s.BM25()
        model.index(token_lists, show_progress=False)
        if model.nonoccurrence_array is not None:  # only BM25L and BM25+ have one
            raise ValueError("a BM25 variant with non-occurrence scores is not supported")
        matrix = model.scores
        return cls(
            matrix["data"], matrix["indices"], matrix["indptr"], model.vocab_dict, len(token_lists)
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        arrays = []
        for name in _ARRAYS:
            try:
                arrays.append(np.load(folder / f"{name}.npy", mmap_mode="r"))
            except (OSError, ValueError, EOFError) as exc:
                raise LexicalDamage(f"{name}.npy", str(exc)) from None
            except TokenError:  # numpy reads the header with Python's own tokenizer
                raise LexicalDamage(f"{name}.npy", "its header is not numpy's") from None
        try:
            meta = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            vocab, chunk_count = meta["vocab"], int(meta["chunk_count"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LexicalDamage("vocab.json", str(exc) or type(exc).__name__) from None
        weights, chunks, starts = arrays
        return cls(weights, chunks, starts, vocab, chunk_count)

    def verify(self, chunk_count: int) -> None:
        """Raises LexicalDamage, naming the file, unless the arrays fit each other and the
        index's chunks (a damaged file can still load)."""
        weights, chunks, starts = self._weights, self._chunks, self._starts
        if self._chunk_count != chunk_count:
            raise LexicalDamage(
                "vocab.json", f"{self._chunk_count} chunks, the manifest says {chunk_count}"
            )
        if len(weights) != len(chunks):
            raise LexicalDamage("chunks.npy", "it does not fit weights.npy")
        try:
            ids = np.fromiter(self._vocab.values(), dtype=np.int64, count=len(self._vocab))
        except (TypeError, ValueError):
            raise LexicalDamage("vocab.json", "its words do not point at postings") from None
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(starts)):
            raise LexicalDamage("vocab.json", "its words point past starts.npy")
        if len(starts) and (int(starts[0]) != 0 or int(starts[-1]) != len(weights)):
            raise LexicalDamage("starts.npy", "its postings do not fit weights.npy")
        # A word's postings are starts[t]:starts[t + 1]: a decrease would give a word a negative
        # number of chunks.
        if len(starts) and bool(np.any(np.diff(starts) < 0)):
            raise LexicalDamage("starts.npy", "its postings do not follow each other")
        if len(chunks) and (int(np.min(chunks)) < 0 or int(np.max(chunks)) >= chunk_count):
            raise LexicalDamage("chunks.npy", "it points at chunks that do not exist")
        if len(weights) and not (
            np.all(np.isfinite(weights))
            and float(np.min(weights)) >= 0
            and float(np.max(weights)) <= _highest_weight(chunk_count)
        ):
            raise LexicalDamage("weights.npy", "it holds weights no BM25 index has")

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(_ARRAYS, (self._weights, self._chunks, self._starts), strict=True):
            np.save(folder / f"{name}.npy", np.asarray(array), allow_pickle=False)
        meta = {"chunk_count": self._chunk_count, "vocab": self._vocab}
        (folder / "vocab.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @property
    def vocabulary(self):
        return self._vocab.keys()

    def idf(self, token: str) -> float:
        """How rare the token is among the chunks (BM25's IDF; a token no chunk holds gets the
        most)."""
        t = self._vocab.get(token)
        held = 0 if t is None else int(self._starts[t + 1]) - int(self._starts[t])
        return math.log(1 + (self._chunk_count - held + 0.5) / (held + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        return self.weighted_scores(Counter(query_tokens))

    def weighted_scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """Each term's BM25 weights, times the term's own weight, summed per chunk: the
        definition that QueryScores reproduces bit for bit."""
        total = np.zeros(self._chunk_count, dtype=np.float32)
        for token, weight in terms.items():
            t = self._vocab.get(token)
            if t is not None:
                span = slice(int(self._starts[t]), int(self._starts[t + 1]))
                np.add.at(total, self._chunks[span], weight * self._weights[span])
        return total

    def postings(self, terms: Mapping[str, float]) -> list[Posting]:
        """The postings of the terms the index holds, in the terms' order."""
        found = []
        for token, weight in terms.items():
            t = self._vocab.get(token)
            if t is not None:
                span = slice(int(self._starts[t]), int(self._starts[t + 1]))
                found.append((self._chunks[span], self._weights[span], weight))
        return found

    def query_scores(self, terms: Mapping[str, float]) -> QueryScores:
        return QueryScores.summed(self.postings(terms), self._chunk_count)


# A term's posting: the chunks holding it, its BM25 weight in each, and the term's own weight.
Posting = tuple[np.ndarray, np.ndarray, float]


class QueryScores:
    """A question's BM25 score of every chunk, and the best of them.

    The work is the postings': a question's common words reach most chunks (300k postings for
    the median CMRC question over 300k chunks), so they are summed into one array by plain
    indexing, and only the chunks scoring above 0 are ranked. Merging the postings instead
    (np.unique) cost more than the full sort it replaced."""

    def __init__(self, totals: np.ndarray):
        self.totals = totals

    @classmethod
    def summed(cls, postings: list[Posting], chunk_count: int) -> QueryScores:
        """The scores LexicalIndex.weighted_scores gives, bit for bit: the same float32
        additions in the same term order. A term's posting holds each chunk once (bm25s counts
        a chunk's tokens first), so indexing with += adds what np.add.at adds, many times
        faster."""
        totals = np.zeros(chunk_count, dtype=np.float32)
        for held, weights, weight in postings:
            totals[held] += weight * weights
        return cls(totals)

    def best(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The `depth` best scores above 0, best first, ties by position ascending: what a
        stable argsort of every chunk's negated scores gives, found among the scored chunks."""
        positions = np.flatnonzero(self.totals > 0)
        scores = self.totals[positions]
        if depth <= 0:
            return positions[:0], scores[:0]
        if len(scores) > depth:
            cut = len(scores) - depth
            # everything tied with the depth-th best stays, in position order, for the sort
            kept = scores >= np.partition(scores, cut)[cut]
            positions, scores = positions[kept], scores[kept]
        order = np.argsort(-scores, kind="stable")[:depth]
        return positions[order], scores[order]

    def at(self, positions: np.ndarray) -> np.ndarray:
        return self.totals[np.asarray(positions, dtype=np.int64)]


class LastQueryScores:
    """A store's scores of the last question's terms: retrieval asks lexical_scores right after
    lexical_search with the same terms, and summing the postings again would double the work."""

    def __init__(self) -> None:
        self._terms: tuple = ()
        self._scores: QueryScores | None = None

    def of(self, terms: Mapping[str, float], summed: Callable[[], QueryScores]) -> QueryScores:
        key = tuple(terms.items())
        if self._scores is None or self._terms != key:
            self._terms, self._scores = key, summed()
        return self._scores
