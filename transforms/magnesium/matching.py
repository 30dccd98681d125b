"""Constrained fuzzy matching of food names to reference foods, vectorised.

Each distinct name is scored against every reference food that has a magnesium value, as a
matrix (no per-pair Python loop):

- `ratio`: rapidfuzz's normalised Indel similarity of the whole names (catches typos);
- `containment`: the share of the name's words (plurals folded) found in the reference name,
  weighted towards references without many extra words —
  100 × shared/|name| × (0.7 + 0.3 × shared/|ref|),
  computed as a sparse word-incidence product; misspelt words are first corrected to the
  closest reference word (similarity ≥ 85);

score = max(ratio, containment), then constrained: baby foods are excluded unless the name
says baby/infant; a reference in a dried state — dried/powdered/flour, and raw legumes and
grains, which are the dry seeds (about 3× the magnesium of cooked) — loses 20 points unless
the name says dried/dry/raw; a name that says only raw (or only cooked) loses 15 against a
reference that says only the other. Confidence = score / 100,
× 0.9 when the runner-up is within 3 points and differs by more than 10 % in magnesium (a
tie between near-identical foods is no doubt about the value). A match is accepted at
confidence ≥ `FUZZY_THRESHOLD`; below it the name stays unknown, and every result is kept
with its candidates and scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from scipy import sparse

FUZZY_THRESHOLD = 0.90
CANDIDATES = 3
AMBIGUITY_POINTS = 3.0
BABY_WORDS = frozenset({"baby", "babyfood", "infant", "toddler"})
PROCESSED_WORDS = frozenset({"dried", "dehydrated", "powder", "powdered", "flour", "dry",
                             "freeze"})
COOKED_WORDS = frozenset({"cooked", "boiled", "baked", "roasted", "fried", "steamed",
                          "grilled", "broiled", "braised", "stewed", "sauteed", "microwaved"})
RAW_WORDS = frozenset({"raw", "uncooked"})
DRY_WHEN_RAW_GROUPS = ("legume", "cereal grain")  # SR28 groups whose raw form is the dry seed
CHUNK = 2048


@dataclass(frozen=True)
class ReferenceIndex:
    """Reference foods prepared for matching: ids, names, word incidence and state flags."""

    food_ids: list[str]
    food_names: list[str]
    keys: list[str]
    vocabulary: dict[str, int]
    words: sparse.csr_matrix  # foods × vocabulary, 0/1
    word_counts: np.ndarray
    is_baby: np.ndarray
    is_processed: np.ndarray
    is_raw: np.ndarray
    is_cooked: np.ndarray
    magnesium: np.ndarray


def _words(key: str) -> list[str]:
    """A normalised name's words, plurals folded ("bananas" → "banana", not "glass")."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in key.split()]


def _has_any(word_lists: list[list[str]], vocab_words: frozenset[str]) -> np.ndarray:
    return np.fromiter((not vocab_words.isdisjoint(words) for words in word_lists), bool,
                       count=len(word_lists))


def _incidence(word_lists: list[list[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    rows = np.repeat(np.arange(len(word_lists)), [len(set(w)) for w in word_lists])
    cols = np.fromiter((vocabulary[w] for words in word_lists for w in dict.fromkeys(words)),
                       np.int64, count=len(rows))
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                             shape=(len(word_lists), len(vocabulary)))


def build_index(foods: pl.DataFrame) -> ReferenceIndex:
    """`foods`: food_id, food_name, name_key (normalised), food_group, magnesium_mg_per_100g
    — the candidates."""
    keys = foods["name_key"].to_list()
    word_lists = [_words(key) for key in keys]
    vocabulary = {w: i for i, w in enumerate(sorted({w for words in word_lists for w in words}))}
    groups = foods["food_group"].fill_null("").str.to_lowercase()
    is_raw = _has_any(word_lists, RAW_WORDS)
    dry_seed = is_raw & groups.str.contains("|".join(DRY_WHEN_RAW_GROUPS)).to_numpy()
    return ReferenceIndex(
        food_ids=foods["food_id"].to_list(), food_names=foods["food_name"].to_list(), keys=keys,
        vocabulary=vocabulary, words=_incidence(word_lists, vocabulary),
        word_counts=np.array([len(set(w)) for w in word_lists], np.float32),
        is_baby=_has_any(word_lists, BABY_WORDS) | groups.str.contains("baby").to_numpy(),
        is_processed=_has_any(word_lists, PROCESSED_WORDS) | dry_seed,
        is_raw=is_raw, is_cooked=_has_any(word_lists, COOKED_WORDS),
        magnesium=foods["magnesium_mg_per_100g"].to_numpy().astype(np.float32),
    )


def _corrected(word_lists: list[list[str]], index: ReferenceIndex) -> list[list[str]]:
    """Replace words the reference never uses by their closest reference word (≥ 85)."""
    unknown = sorted({w for words in word_lists for w in words if w not in index.vocabulary})
    if not unknown:
        return word_lists
    vocab = list(index.vocabulary)
    scores = process.cdist(unknown, vocab, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
    best = scores.argmax(axis=1)
    fixes = {w: vocab[b] for w, b, s in zip(unknown, best, scores.max(axis=1), strict=True)
             if s >= 85}
    return [[fixes.get(w, w) for w in words] for words in word_lists]


def _penalise(score: np.ndarray, rows: np.ndarray, columns: np.ndarray, points: float) -> None:
    """Subtract `points` where a flagged query row meets a flagged reference column."""
    if rows.any() and columns.any():
        score[np.ix_(rows, columns)] -= points


def _scores(keys: list[str], index: ReferenceIndex) -> np.ndarray:
    """Names × reference foods score matrix (float32, 0–100), computed in place."""
    word_lists = _corrected([_words(key) for key in keys], index)
    known = [[w for w in words if w in index.vocabulary] for words in word_lists]
    shared = (_incidence(known, index.vocabulary) @ index.words.T).tocsr()
    query_counts = np.array([max(len(set(w)), 1) for w in word_lists], np.float32)
    # containment = 100 × shared/|name| × (0.7 + 0.3 × shared/|ref|), on the sparse pairs
    # that share a word only
    rows = np.repeat(np.arange(len(keys)), np.diff(shared.indptr))
    words = shared.data
    shared.data = 100 * words / query_counts[rows] * (0.7 + 0.3 * words /
                                                      index.word_counts[shared.indices])
    score = process.cdist(keys, index.keys, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
    np.maximum(score, shared.toarray(), out=score)
    says_baby = _has_any(word_lists, BABY_WORDS)
    says_processed = _has_any(word_lists, PROCESSED_WORDS | {"raw", "uncooked"})
    says_raw = _has_any(word_lists, RAW_WORDS)
    says_cooked = _has_any(word_lists, COOKED_WORDS)
    _penalise(score, ~says_baby, index.is_baby, 100)
    _penalise(score, ~says_processed, index.is_processed, 20)
    _penalise(score, says_raw & ~says_cooked, index.is_cooked & ~index.is_raw, 15)
    _penalise(score, says_cooked & ~says_raw, index.is_raw & ~index.is_cooked, 15)
    return np.clip(score, 0, 100, out=score)


def _best(score: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of each row's k best, best first; ties go to the lower index
    (reference order). k argmax passes beat a full partition of every row."""
    rows = np.arange(score.shape[0])
    top = np.empty((score.shape[0], k), np.int64)
    top_scores = np.empty((score.shape[0], k), np.float32)
    for rank in range(k):
        top[:, rank] = score.argmax(axis=1)
        top_scores[:, rank] = score[rows, top[:, rank]]
        score[rows, top[:, rank]] = -1.0  # scores are ≥ 0: the next pass finds the next best
    return top, top_scores


def fuzzy_match(keys: list[str], index: ReferenceIndex) -> pl.DataFrame:
    """Best candidates per normalised name, with confidence and acceptance."""
    rows: dict[str, list] = {"name_key": [], "food_id": [], "confidence": [], "accepted": [],
                             "candidates": []}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        score = _scores(chunk, index)
        top, top_scores = _best(score, CANDIDATES)
        margin = top_scores[:, 0] - top_scores[:, 1]
        best_mg, runner_up_mg = index.magnesium[top[:, 0]], index.magnesium[top[:, 1]]
        differs = np.abs(best_mg - runner_up_mg) > 0.10 * np.maximum(best_mg, runner_up_mg)
        ambiguous = (margin < AMBIGUITY_POINTS) & differs
        confidence = top_scores[:, 0] / 100 * np.where(ambiguous, 0.9, 1.0)
        rows["name_key"].extend(chunk)
        rows["food_id"].extend(index.food_ids[i] for i in top[:, 0])
        rows["confidence"].extend(np.round(confidence, 4).tolist())
        rows["accepted"].extend((confidence >= FUZZY_THRESHOLD).tolist())
        rows["candidates"].extend(
            json.dumps([{"food_id": index.food_ids[i], "food_name": index.food_names[i],
                         "score": round(float(s), 1)} for i, s in zip(ids, scores, strict=True)])
            for ids, scores in zip(top, top_scores, strict=True))
    return pl.DataFrame(rows, schema={"name_key": pl.String, "food_id": pl.String,
                                      "confidence": pl.Float64, "accepted": pl.Boolean,
                                      "candidates": pl.String})
