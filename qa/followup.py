"""Follow-up questions in a chat: spot the ones that lean on an earlier turn, make them standalone.

「那深圳呢？」 after 「镇江提出哪一年实现碳峰值？」 means 「深圳提出哪一年实现碳峰值？」. With a chat model
the model rewrites it; without one, the subject of the last question is swapped for the new one
(ellipsis), put in place of the pronoun (「它是哪一年建成的？」, "When was it founded?") or in front
of a question that names nothing (「哪一年建成的？」). Chinese is read in jieba's words, so 这/该/其/他
inside ordinary words (这么, 应该, 其他, 其它) are no pronouns, and neither is a pronoun that points
to a name earlier in the same question (王天成指控谁抄袭了他的文章).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from embeddings.cleaning import has_cjk, matching_form, question_language
from qa.lang.zh import NAME_TAGS, PRONOUN_WORDS, QUESTION_WORDS, points_back

# 「那深圳呢？」「深圳的呢」「如果是深圳呢」: a subject and 呢, and nothing asked besides
_ZH_ELLIPSIS = re.compile(
    r"^(?:那么?|那末|还有|另外)?\s*(?P<subject>[^，,。？?！!]{1,24}?)\s*呢\s*[？?]?$"
)
_ZH_SUBJECT_AFFIXES = re.compile(r"^(?:在|如果是|要是|换成|换作|对于|关于|至于)|(?:的|那边|这边)$")
_ZH_QUESTION_WORDS = re.compile(QUESTION_WORDS)
_ZH_LEADS = re.compile(r"^(?:那么|那末|那)\s*")
_CLASSIFIERS = set("个位座部条家所支种次届本首张款只项名间片场段件期辆艘台架篇份")
_EN_ELLIPSIS = re.compile(
    r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)\s*\??$|^and\s+(?P<subject2>.+?)\s*\?$",
    re.IGNORECASE,
)
_EN_SUBJECT_LEADS = re.compile(r"^(?:in|for|at|on|with)\s+", re.IGNORECASE)
_EN_PERSONAL = re.compile(
    r"\b(?:he|she|it|they|him|them|his|her|hers|its|their|theirs)\b", re.IGNORECASE
)
# this/that/these/those as a demonstrative ("in that year", "who built this"), not as a
# relative pronoun ("the river that flows") nor in "this year"
_EN_DEMONSTRATIVE = re.compile(
    r"(?:^|\b(?:in|at|of|on|for|about|from|by|with|to|into|during|after|before|than|is|was|are"
    r"|were|did|does|do|has|have|had|and|or|but|what|who|where|when|why|how|which)\s+)"
    r"(?:this|that|these|those)\b(?!\s+(?:year|month|week|season|day|time|century)\b)",
    re.IGNORECASE,
)
# "there" pointing at a place named before, not "is there" / "there are"
_EN_THERE = re.compile(
    r"(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )\bthere\b(?!\s+(?:is|are|was|were)\b|'s)",
    re.IGNORECASE,
)
# A question made of these words only ("Why?", "And then?", "How many?") asks about what came before
_EN_FUNCTION_WORDS = {
    "what", "when", "where", "who", "whom", "which", "why", "how", "and", "or", "so", "then",
    "else", "more", "really", "exactly", "is", "was", "are", "were", "did", "does", "do", "many",
    "much", "long", "old", "about", "again", "the", "a", "an", "of", "anything", "other",
}  # fmt: skip
_EN_NAME = re.compile(r"[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|de|von|van|du|la)\s+)*[A-Z][\w'’.-]*)*")
_EN_NOT_NAME_START = {
    "what", "when", "where", "who", "which", "why", "how", "did", "does", "do", "is", "was",
    "are", "were", "in", "on", "at", "the", "a", "an", "and", "what's", "can", "could", "has",
    "have", "had", "according", "for", "from", "by", "during", "after", "before",
}  # fmt: skip
_EN_PREPOSITIONS = {"in", "at", "on", "to", "for", "with", "from", "by", "about", "and", "or"}
_NAME_TAGS = tuple(NAME_TAGS)  # prefixes, as flag.startswith reads them
_OPEN_QUOTES = set("“「『《\"'‘")
_CLOSE_QUOTES = set("”」』》\"'’")
# a short question opening with a question word or one of these has left its subject out
_ZH_OPENING_VERBS = {"有", "是", "还有", "共有", "一共", "在", "被", "为", "又", "还"}
SUBJECTLESS_MAX_CHARS = 10
SUBJECTLESS_MAX_WORDS = 3
# one-character words that end a name (北土城|站, 九龙巴士32B|线)
_NAME_SUFFIXES = set("站线路桥山河湖岛市县省区镇村港馆院校队会社厂场楼街门寺庙堂塔宫园城州郡国族人")
# characters that follow a surname without being its given name (曾是, 王的, 张在)
_NOT_GIVEN_NAMES = set("是的在和与说也还都就把被对从向为于有了")
# common words jieba tags as place names
_NOT_NAMES = {"城市", "全市", "全国", "国家", "地区", "世界", "本市", "我市"}
_TITLE_QUALIFIER = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")


def _cut(text: str) -> list[tuple[str, str]]:
    """jieba's words and part-of-speech tags, with a one-character surname joined to the one
    character after it (吴|优 → 吴优, 翟|隽 → 翟隽), as jieba leaves unknown given names apart."""
    from embeddings.lexical import tagged

    joined: list[tuple[str, str]] = []
    for word, flag in tagged(text):
        if (
            joined
            and joined[-1][1] == "nr"
            and len(joined[-1][0]) == 1
            and len(word) == 1
            and has_cjk(word)
            and word not in _NOT_GIVEN_NAMES
        ):
            joined[-1] = (joined[-1][0] + word, "nr")
        else:
            joined.append((word, flag))
    return joined


def _simplified(text: str) -> str:
    from embeddings.cleaning import to_simplified

    return to_simplified(text)


def _zh_pointing(words: list[tuple[str, str]]) -> list[int]:
    """Positions of the words that point back to an earlier turn. Not those that point inside the
    question: after a name (王天成指控谁抄袭了他的文章, 「quake lake」一词后，该词) or right after a
    noun they stand beside (胜任力这个词, “梦野久作”这个笔名)."""
    found = []
    named = False
    quoted = False
    for i, (word, flag) in enumerate(words):
        if word in _OPEN_QUOTES:
            quoted = True
        if points_back(word, i) and not named:
            before = words[i - 1] if i else ("", "x")
            beside = word not in PRONOUN_WORDS and (
                before[1].startswith("n") or before[0] in _CLOSE_QUOTES
            )
            if not beside:
                found.append(i)
        if flag.startswith(_NAME_TAGS) or flag == "eng" or (quoted and word in _CLOSE_QUOTES):
            named = True
    return found


def _ellipsis_subject(text: str) -> str | None:
    """The new subject of an ellipsis: 深圳 in 「那深圳呢？」, Shenzhen in "What about Shenzhen?"."""
    text = text.strip()
    match = _ZH_ELLIPSIS.match(text) if question_language(text) == "zh" else None
    if match:
        subject = _ZH_SUBJECT_AFFIXES.sub("", _ZH_LEADS.sub("", match.group("subject").strip()))
        if not subject or _ZH_QUESTION_WORDS.search(_simplified(subject)):
            return None  # 「他为什么离开呢？」 asks something: not an ellipsis
        if _zh_pointing(_cut(_simplified(subject))):
            return None
        return subject.strip()
    match = _EN_ELLIPSIS.match(text)  # also "What about 于乐?"
    if not match:
        return None
    subject = _EN_SUBJECT_LEADS.sub("", (match.group("subject") or match.group("subject2")).strip())
    first = subject.split()[0].lower() if subject.split() else ""
    if not subject or first in _EN_NOT_NAME_START - {"the", "a", "an"}:
        return None  # "And what did he say?" asks something: not an ellipsis
    return subject


def _en_points_back(text: str) -> bool:
    for pattern in (_EN_PERSONAL, _EN_DEMONSTRATIVE, _EN_THERE):
        for match in pattern.finditer(text):
            # not "Why was Wang Shen raised by his uncle?": his points inside the question
            if not _en_names(text[: match.start()]):
                return True
    # "Why?", "How many exits?": a short question that names nothing
    words = re.findall(r"[a-z']+", text.lower())
    if not words or _en_names(text):
        return False
    return all(w in _EN_FUNCTION_WORDS for w in words) or len(words) <= SUBJECTLESS_MAX_WORDS


def refers_back(text: str) -> bool:
    """Whether a question leans on the conversation: ellipsis (那深圳呢？, what about Shenzhen?), a
    pronoun (他还说了什么, when was it founded?) or no subject at all (哪一年建成的？, why?)."""
    if _ellipsis_subject(text):
        return True
    if question_language(text) == "en":
        return _en_points_back(text)
    words = [(w, f) for w, f in _cut(_simplified(text.strip())) if w.strip()]
    if _zh_pointing(words):
        return True
    return _zh_subjectless(words)


def _zh_subjectless(words: list[tuple[str, str]]) -> bool:
    """A short question that opens by asking, naming nothing: 「哪一年建成的？」「有几个出入口？」
    「什么时候开通的？」, but not 「操场的定义是什么？」 nor 「什么是碳中和？」."""
    if sum(len(w) for w, f in words if f != "x") > SUBJECTLESS_MAX_CHARS:
        return False
    if any(
        w in _OPEN_QUOTES or f.startswith(_NAME_TAGS) or f == "eng" or (w.isascii() and w.isalnum())
        for w, f in words
    ):
        return False  # names something: 《瞄》, 深圳, 32M
    if "".join(w for w, _ in words).startswith(("什么是", "何谓", "何为")):
        return False
    first = words[0][0] if words else ""
    return bool(_ZH_QUESTION_WORDS.match(first)) or first in _ZH_OPENING_VERBS


def _zh_names(question: str) -> list[str]:
    """Runs of name words (莱昂/德罗/·/内托 → 莱昂德罗·内托, 北/土城/站 → 北土城站), in order."""
    names, run = [], ""
    for word, flag in _cut(question):
        if flag.startswith(_NAME_TAGS) or (word == "·" and run):
            run += word
        elif run and word in _NAME_SUFFIXES:  # 北土城|站
            names.append(run.strip("·") + word)
            run = ""
        else:
            if run:
                names.append(run.strip("·"))
            run = ""
    if run:
        names.append(run.strip("·"))
    return [n for n in names if len(n) >= 2 and n not in _NOT_NAMES]


def _zh_leading_phrase(question: str) -> str | None:
    """The noun phrase a Chinese question opens with, its topic (上海轨道交通18号线的编号是什么 →
    上海轨道交通18号线)."""
    phrase: list[tuple[str, str]] = []
    following = ("", "x")
    for word, flag in _cut(question):
        if phrase and word in _NAME_SUFFIXES:  # 大曲|站 (jieba: 站 the verb)
            phrase.append((word, "n"))
            continue
        if flag.startswith(("n", "a", "b", "m", "q", "eng")) or (word == "·" and phrase):
            if not phrase and not flag.startswith("n"):
                return None
            phrase.append((word, flag))
            continue
        following = (word, flag)
        break
    while phrase and not phrase[-1][1].startswith("n"):
        phrase.pop()
    if not phrase:
        return None
    clear_end = following[1].startswith(("u", "p", "r", "d", "c", "x")) or following[0] in "是有为"
    named = any(f.startswith(_NAME_TAGS) for _, f in phrase)
    last = phrase[-1][0]
    if not clear_end and named and len(last) == 1 and last not in _NAME_SUFFIXES:
        return None  # 深圳碳|排放: jieba split a word the phrase runs on into (but 北土城|站|位于)
    text = "".join(w for w, _ in phrase)
    return text if len(text) >= 2 else None


def _en_names(question: str) -> list[str]:
    names = []
    for match in _EN_NAME.finditer(question):
        words = match.group().split()
        while words and words[0].lower() in _EN_NOT_NAME_START:
            words = words[1:]
        name = re.sub(r"['’]s?$", "", " ".join(words)).rstrip(".")
        if name:
            names.append(name)
    return names


def _names(question: str) -> list[str]:
    return _zh_names(question) if question_language(question) == "zh" else _en_names(question)


def _title_in(question: str, titles: Sequence[str]) -> str | None:
    """The longest document title that the question names, as the question writes it."""
    form = matching_form(question)
    best = None
    for title in titles:
        name = _TITLE_QUALIFIER.sub("", title).strip()
        if len(name) < 2 or (best and len(name) <= len(best)):
            continue
        start = form.find(matching_form(name))
        if start < 0:
            continue
        best = question[start : start + len(name)] if len(form) == len(question) else name
    return best


def subject_of(question: str, titles: Sequence[str] = ()) -> str | None:
    """What a standalone question is about: a title of the documents retrieved for it that it
    names (颈阔肌), else the noun phrase it opens with when that holds its first name or it has
    none (上海轨道交通18号线), else its first name (镇江, Zhao Peng)."""
    found = _title_in(question, titles)
    if found:
        return found
    names = _names(question)
    phrase = _zh_leading_phrase(question) if question_language(question) == "zh" else None
    if phrase and (not names or names[0] in phrase):
        return phrase
    return names[0] if names else None


def _en_replace_pronouns(text: str, subject: str) -> str:
    def swap(match: re.Match) -> str:
        word = match.group().lower()
        if word in ("his", "its", "their", "theirs", "hers"):
            return f"{subject}'s"
        if word == "her":
            following = re.match(r"\s+([A-Za-z]+)", text[match.end() :])
            if following and following.group(1).lower() not in _EN_PREPOSITIONS:
                return f"{subject}'s"
        return subject

    replaced = _EN_PERSONAL.sub(swap, text)
    if replaced == text:
        replaced = _EN_THERE.sub(f"in {subject}", text)
    return replaced


def carry_subject(previous: str, follow_up: str, titles: Sequence[str] = ()) -> str:
    """Make a follow-up standalone without a model, from the last standalone question (and the
    titles of the documents retrieved for it, which often name its subject)."""
    follow_up = follow_up.strip()
    if (
        question_language(previous) == "zh"
    ):  # read and rewritten in simplified characters, as jieba knows them
        previous = _simplified(previous)
    new_subject = _ellipsis_subject(follow_up)
    old_subject = subject_of(previous, titles)
    if new_subject:
        if old_subject and old_subject in previous:
            return previous.replace(old_subject, new_subject, 1)
        return f"{new_subject} {previous}"
    if not old_subject:
        return f"{previous} {follow_up}"
    if question_language(follow_up) == "en":
        replaced = _en_replace_pronouns(follow_up, old_subject)
        return replaced if replaced != follow_up else f"{follow_up} {old_subject}"
    text = _simplified(follow_up)
    words = [w for w, _ in _cut(text)]
    tagged = _cut(text)
    words = [w for w, _ in tagged]
    pointing = _zh_pointing(tagged)
    if not pointing:  # 「哪一年建成的？」: the subject was left out
        return old_subject + _ZH_LEADS.sub("", text)
    for i in pointing:
        words[i] = old_subject
        # 这|座 车站 → 北土城站车站, not 北土城站座车站
        if tagged[i][0] in "这那该此" and i + 1 < len(words) and words[i + 1] in _CLASSIFIERS:
            words[i + 1] = ""
    return "".join(words)
