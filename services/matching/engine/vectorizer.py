"""Text → sparse vectors: a word space (light stemming, uni+bigrams) and a char n-gram space.

Two spaces because they do different jobs. The word space has few non-zeros per text and
short posting lists, so it is cheap enough to scan the whole index with (candidate
generation). The char_wb space catches what stemming misses ("Li-ion" / "lithium-ion",
"photovoltaic" / "photovoltaics", compound spellings) but has many non-zeros per text, so
it is only used to re-score a few hundred candidates.

Fitting is factorised for speed: char_wb n-grams never cross a word boundary, so a text's
char n-gram counts are the sum of its words' counts. We count words once (C-level regex
tokenising in CountVectorizer), compute n-grams once per *distinct* word, and multiply the
two sparse matrices; likewise stemming is applied per distinct vocabulary entry, not per
occurrence. The result equals running the analyzers on every text, at a fraction of the
cost (about 100 s → under 10 s for 300,000 field texts on the 2-core reference machine).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    CountVectorizer,
    TfidfTransformer,
)

# Words that appear in almost every cluster text and say nothing about a partner.
DOMAIN_STOP_WORDS = frozenset(
    {
        "cluster",
        "clusters",
        "partner",
        "partners",
        "partnership",
        "company",
        "companies",
        "member",
        "members",
        "looking",
        "seek",
        "seeking",
        "need",
        "needs",
        "offer",
        "offers",
        "find",
        "want",
    }
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | DOMAIN_STOP_WORDS
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # noqa: S105 (a regex, not a secret)
_TOKEN = re.compile(TOKEN_PATTERN)


def stem(word: str) -> str:
    """A deliberately small suffix stripper (no NLP package is a dependency).

    It only has to make inflections of the same word collide: batteries/battery,
    recycling/recycled/recycle, sensors/sensor, automation/automated. Over-stemming is
    cheap here because the char n-gram space re-scores every candidate anyway.
    """
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix, keep in (
        ("ations", 5),
        ("ation", 4),
        ("ition", 4),
        ("ings", 4),
        ("ing", 4),
        ("ised", 4),
        ("ized", 4),
        ("ed", 4),
        ("er", 5),
        ("ion", 5),
        ("ive", 5),
        ("al", 5),
        ("e", 4),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            w = w[: -len(suffix)]
            break
    if w.endswith("y") and len(w) > 4:
        w = w[:-1] + "i"
    return w


def content_tokens(text: str) -> list[str]:
    """Lower-cased content words (stop words dropped), before stemming."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]


def stem_term(term: str) -> str:
    """Stem every word of a (uni- or bi-gram) term."""
    return " ".join(stem(w) for w in term.split(" "))


@dataclass(frozen=True, slots=True)
class Vectors:
    """One batch of texts in both spaces (rows L2-normalised)."""

    word: sp.csr_matrix
    char: sp.csr_matrix


@dataclass(frozen=True, slots=True)
class Grouped:
    """Vectors of groups of phrases (a field) and of each phrase on its own.

    A group's vector is TF-IDF of the summed counts of its phrases, so fields and phrases
    live in the same space; `ptr[i]:ptr[i + 1]` are the phrases of group i.
    """

    groups: Vectors
    distinct_phrases: Vectors
    ptr: npt.NDArray[np.int64]
    # phrase i (in group order) is row phrase_rows[i] of distinct_phrases
    phrase_rows: npt.NDArray[np.int64]


def _distinct(texts: Sequence[str]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Distinct texts and, for each input text, the index of its distinct copy."""
    first: dict[str, int] = {}
    inverse = np.fromiter(
        (first.setdefault(t, len(first)) for t in texts), dtype=np.int64, count=len(texts)
    )
    return list(first), inverse


def _ptr(groups: Sequence[Sequence[str]]) -> npt.NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)


def _tfidf(idf: TfidfTransformer, counts: sp.csr_matrix) -> sp.csr_matrix:
    # A profile with no text at all (only a name and a country) has no phrases, and
    # sklearn refuses to transform zero rows; zero rows in give zero rows out.
    if counts.shape[0] == 0:
        return sp.csr_matrix(counts.shape, dtype=np.float32)
    return sp.csr_matrix(idf.transform(counts), dtype=np.float32)


class TextSpace:
    """The fitted pair of TF-IDF spaces shared by every field of every profile."""

    def __init__(self) -> None:
        self._counts = CountVectorizer(
            token_pattern=TOKEN_PATTERN,
            stop_words=sorted(STOP_WORDS),
            ngram_range=(1, 2),
            dtype=np.float32,
        )
        self._chars = CountVectorizer(analyzer="char_wb", ngram_range=(3, 5), dtype=np.float32)
        self._word_idf = TfidfTransformer(sublinear_tf=True)
        self._char_idf = TfidfTransformer(sublinear_tf=True)
        # raw uni/bigram column → stemmed term column
        self._stem_map = sp.csr_matrix((0, 0), dtype=np.float32)
        self._unigram_cols = np.zeros(0, dtype=np.int64)
        self._grams = sp.csr_matrix((0, 0), dtype=np.float32)
        self._raw_vocab: dict[str, int] = {}
        self.word_vocab: dict[str, int] = {}
        self.fitted = False

    def _fit_counts(self, phrases: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        raw = sp.csr_matrix(self._counts.fit_transform(phrases))
        self._raw_vocab = dict(self._counts.vocabulary_)
        raw_terms = self._counts.get_feature_names_out()
        stemmed: dict[str, int] = {}
        target = np.empty(len(raw_terms), dtype=np.int64)
        for i, term in enumerate(raw_terms):
            target[i] = stemmed.setdefault(stem_term(str(term)), len(stemmed))
        self.word_vocab = stemmed
        ones = np.ones(len(raw_terms), dtype=np.float32)
        self._stem_map = sp.csr_matrix(
            (ones, (np.arange(len(raw_terms)), target)), shape=(len(raw_terms), len(stemmed))
        )
        self._unigram_cols = np.array(
            [i for i, t in enumerate(raw_terms) if " " not in t], dtype=np.int64
        )
        unigrams = [str(raw_terms[i]) for i in self._unigram_cols]
        self._grams = sp.csr_matrix(self._chars.fit_transform(unigrams))
        word = sp.csr_matrix(raw @ self._stem_map)
        char = sp.csr_matrix(raw[:, self._unigram_cols] @ self._grams)
        return word, char

    def _new_counts(self, phrases: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        # Unknown words keep their known char n-grams: a new spelling is not invisible.
        raw = sp.csr_matrix(self._counts.transform(phrases))
        word = sp.csr_matrix(raw @ self._stem_map)
        char = sp.csr_matrix(self._chars.transform([" ".join(content_tokens(t)) for t in phrases]))
        return word, char

    def _weigh(self, word: sp.csr_matrix, char: sp.csr_matrix) -> Vectors:
        return Vectors(word=_tfidf(self._word_idf, word), char=_tfidf(self._char_idf, char))

    def _grouped(self, groups: Sequence[Sequence[str]], *, fit: bool) -> Grouped:
        # Short phrases repeat a lot across clusters ("machine learning"): all the text
        # work happens once per distinct phrase; groups sum rows of the distinct phrases.
        ptr = _ptr(groups)
        distinct, inverse = _distinct([p for g in groups for p in g])
        if fit:
            word, char = self._fit_counts(distinct)
        else:
            word, char = self._new_counts(distinct)
        owner = np.repeat(np.arange(len(groups)), np.diff(ptr))
        agg = sp.csr_matrix(
            (np.ones(len(inverse), dtype=np.float32), (owner, inverse)),
            shape=(len(groups), len(distinct)),
        )
        gword, gchar = sp.csr_matrix(agg @ word), sp.csr_matrix(agg @ char)
        if fit:
            self._word_idf.fit(gword)
            self._char_idf.fit(gchar)
            self.fitted = True
        phrases = self._weigh(word, char)
        return Grouped(self._weigh(gword, gchar), phrases, ptr, inverse)

    def fit_grouped(self, groups: Sequence[Sequence[str]]) -> Grouped:
        """Fit vocabulary and IDF (IDF over groups) and vectorise groups and phrases."""
        return self._grouped(groups, fit=True)

    def transform_grouped(self, groups: Sequence[Sequence[str]]) -> Grouped:
        if not self.fitted:
            raise RuntimeError("TextSpace is not fitted")
        return self._grouped(groups, fit=False)

    def transform(self, texts: Sequence[str]) -> Vectors:
        """Vectors for new free texts (a search query) in the fitted spaces."""
        return self.transform_grouped([[t] for t in texts]).groups

    @property
    def char_vocab(self) -> dict[str, int]:
        vocab: dict[str, int] = self._chars.vocabulary_
        return vocab

    def unknown_word_share(self, texts: Iterable[str]) -> tuple[int, int]:
        """(unknown, total) content words in texts: how far the vocabulary has drifted."""
        unknown = total = 0
        for text in texts:
            for token in content_tokens(text):
                total += 1
                if token not in self._raw_vocab:
                    unknown += 1
        return unknown, total
