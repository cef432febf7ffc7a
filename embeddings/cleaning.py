"""Two forms of text: the cleaned form people read and cite, and the matching form used to compare.

Cleaning keeps the author's characters (traditional stays traditional) and only removes noise:
pinyin glosses pasted after characters, compatibility forms, stray control characters, ragged
white space. The matching form folds away differences that should never stop a match:
traditional/simplified, full-width/half-width, case.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Bump when cleaning or reading changes what ends up in an index, so old indexes are rebuilt, not
# mixed. 2: PDF and slide tables under their headers, headings marked (issue 33). 3: a PDF's
# bulleted points with hanging indents read as whole paragraphs.
CLEANER_VERSION = 3

# CJK ideographs (extension A, the unified block, compatibility ideographs): the one definition,
# which qa/lang/zh.py re-exports.
CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_LETTERS = "a-zü" + _TONE_VOWELS
# A gloss is one pinyin syllable in brackets carrying a tone mark (團(tuán)) or a tone digit (团(tuan2)).
# Requiring the tone keeps (a), (GDP), (2020) and (鄭辦 吳悠) untouched.
_TONED_GLOSS = re.compile(
    rf"[(（]\s*(?=[{_PINYIN_LETTERS}]*[{_TONE_VOWELS}])[{_PINYIN_LETTERS}]{{1,7}}\s*[)）]"
    rf"|[(（][{_PINYIN_LETTERS}]{{1,6}}[1-5][)）]"
)
# Neutral-tone syllables carry no mark; strip only the common ones, and only after a CJK character.
_NEUTRAL_GLOSS = re.compile(rf"(?<=[{CJK}])[(（](?:de|le|men|me|ma|ne|ba|zi)[)）]")
# Chinese punctuation that NFKC would fold to ASCII; people expect to read it as written.
_KEEP_WIDE = re.compile(
    r"[\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2026\u3001-\u303f]"
)
# ASCII , : ; ! typed inside Chinese text become the full-width marks a reader expects (and that
# end sentences); between digits (1,000  12:30) they stay.
_ASCII_MARK_IN_CHINESE = re.compile(rf"(?<=[{CJK}])[,:;!](?!\d)|(?<!\d)[,:;!](?=[{CJK}])")
_FULL_WIDTH = str.maketrans(",:;!", "，：；！")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028\u2029\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _nfkc_outside_wide_punctuation(text: str) -> str:
    pieces = []
    last = 0
    for match in _KEEP_WIDE.finditer(text):
        pieces.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        pieces.append(match.group())
        last = match.end()
    pieces.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(pieces)


def clean_text(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _TONED_GLOSS.sub("", text)
    text = _NEUTRAL_GLOSS.sub("", text)
    text = _nfkc_outside_wide_punctuation(text)
    text = _ASCII_MARK_IN_CHINESE.sub(lambda m: m.group().translate(_FULL_WIDTH), text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


@lru_cache(maxsize=1)
def _to_simplified():
    import opencc  # imported late: only the paths that compare text pay for it

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _to_simplified().convert(text)


@lru_cache(maxsize=1)
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    return _to_traditional().convert(text)


def matching_form(text: str) -> str:
    """Traditional → simplified, full-width → half-width, lower case: 鎮江 = 镇江, ｂｅｉｊｉｎｇ = beijing."""
    return unicodedata.normalize("NFKC", to_simplified(text)).lower()


def spaceless_form(text: str) -> str:
    """The matching form without white space, where text is compared character by character:
    a line break inside 碳达峰 must not split it."""
    return re.sub(r"\s+", "", matching_form(text))


def has_cjk(text: str) -> bool:
    return re.search(f"[{CJK}]", text) is not None


def question_language(question: str) -> str:
    """ "zh" for a question with Chinese characters, else "en": the one place qa decides it."""
    return "zh" if has_cjk(question) else "en"


def _changed(text: str, converted: str) -> int:
    return sum(a != b for a, b in zip(text, converted, strict=False))


def question_script(question: str) -> str:
    """ "hant" for a question in traditional characters, "hans" for simplified (also when no
    character tells them apart, 北京), "en" for one without Chinese: the characters that the
    conversion to the other script would change say which one it is written in."""
    if not has_cjk(question):
        return "en"
    traditional = _changed(question, to_simplified(question))
    simplified = _changed(question, to_traditional(question))
    return "hant" if traditional > simplified else "hans"
