"""The English bridge's dictionary: parsed once, then read from the user cache in later
processes, with the same terms either way."""

from __future__ import annotations

from qa.retrieve import bridge

VOCABULARY = {"职业", "赵鹏", "抚顺", "下半", "年"}
QUESTION = "What profession did Zhao Peng take up in Fushun in the second half of 1990?"


def test_the_dictionary_is_read_from_the_cache_the_first_parse_wrote(monkeypatch):
    bridge._dictionary.cache_clear()
    parsed = bridge._dictionary()
    assert bridge._cache_file(bridge._source()).is_file()

    def no_parse(source):
        raise AssertionError("parsed again despite the cache")

    bridge._dictionary.cache_clear()
    monkeypatch.setattr(bridge, "_parsed", no_parse)
    assert bridge._dictionary() == parsed
    terms = bridge.EnglishBridge(VOCABULARY).terms(QUESTION)
    assert {"职业", "赵鹏", "抚顺", "下半"} <= set(terms)


def test_a_damaged_cache_is_parsed_again(monkeypatch):
    bridge._dictionary.cache_clear()
    parsed = bridge._dictionary()
    bridge._cache_file(bridge._source()).write_bytes(b"not json")
    bridge._dictionary.cache_clear()
    assert bridge._dictionary() == parsed
    bridge._dictionary.cache_clear()
