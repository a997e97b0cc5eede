"""Words of the texts that some datasets attach to their images (a tweet and its comments).

One tokenizer for every reader of a text: the layouts that find ontology adjectives in it and the
query vectors of eq. (2) built from it (``visent.model.text``), so both see the same words.
"""

from __future__ import annotations

import re

#: Lower-case runs of letters: the form of GloVe 6B's vocabulary (which is lower-cased). A hashtag
#: gives its word (``#happy`` -> ``happy``); digits, emoji and punctuation give none.
_WORD = re.compile(r"[a-z]+")


def tokenize(text: str | None) -> list[str]:
    """The words of ``text`` in order, lower-cased; none for a missing text."""
    return _WORD.findall(text.lower()) if text else []


def words_in(text: str | None, vocabulary: set[str] | frozenset[str]) -> list[str]:
    """The distinct words of ``text`` that are in ``vocabulary``, in order of first occurrence."""
    seen: dict[str, None] = {}
    for word in tokenize(text):
        if word in vocabulary:
            seen.setdefault(word)
    return list(seen)
