"""Follow-up questions in `qa chat`: does the last turn of a dialogue retrieve the right document?

Run: python bench/followup.py [--json] [--details] [--source seeds|cmrc]

Each dialogue (two or three turns over the seed documents or the CMRC 2018 dev subset) is played
through qa.chat.ChatSession with the extractive backend, so the follow-up is made standalone
without a model (qa/followup.py). Two sets: bench/data/dialogues.jsonl ("dev": the model-free
rewrite was improved while looking at it) and bench/data/dialogues_heldout.jsonl ("held_out":
written after the code was frozen, on other documents, and not tuned on). The last turn is then
retrieved these ways and scored by document (a passage of the dialogue's doc_id at rank 1,
within the top 5):

- raw: the user's own words alone, as if nothing were rewritten (the baseline);
- rewrite: the standalone question alone;
- both_max, both_rrf, both_rrf_half: the rewrite and the user's words merged by
  Retriever.search_followup: each chunk at its better fused score (what `qa chat` uses), or by
  reciprocal rank with the user's words weighted 1 or 0.5.

A last turn the trigger did not fire on is retrieved with its own words in every way. `fired` is
the share of last turns that were rewritten; `trigger_accuracy` counts a dialogue right when the
trigger fired exactly on the follow-ups that refer back (kind != "standalone"). With
OPENAI_BASE_URL set (and QA_MODEL), the dialogues are played again with the chat model as the
rewriter (ChatModelAnswerer.rewrite, history quoted in one message); the earlier turns are still
answered extractively, so only the rewrites cost model calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from qa.api import Assistant
from qa.chat import ChatSession
from qa.evaluation import RETRIEVAL_DEPTH, _default_eval_index, load_corpus_jsonl

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
DIALOGUE_SETS = {"dev": DATA / "dialogues.jsonl", "held_out": DATA / "dialogues_heldout.jsonl"}
SEEDS = ROOT / "seeds"
CMRC_DOCS = DATA / "cmrc_dev_docs.jsonl"
METHODS = ("raw", "rewrite", "both_max", "both_rrf", "both_rrf_half")
MERGES = {"both_max": ("max", 1.0), "both_rrf": ("rrf", 1.0), "both_rrf_half": ("rrf", 0.5)}


def load_dialogues() -> list[dict]:
    dialogues = []
    for name, path in DIALOGUE_SETS.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                dialogue = json.loads(line) | {"set": name}
                assert 2 <= len(dialogue["turns"]) <= 3, dialogue["id"]
                dialogues.append(dialogue)
    return dialogues


def _rank(passages, doc_id: str) -> int | None:
    for rank, passage in enumerate(passages, start=1):
        if passage.doc_id == doc_id:
            return rank
    return None


def play(assistant: Assistant, dialogue: dict) -> dict:
    """The dialogue's earlier turns asked through a chat session, then its last turn retrieved
    every way."""
    session = ChatSession(assistant)
    for turn in dialogue["turns"][:-1]:
        session.ask(turn)
    last = dialogue["turns"][-1]
    started = time.perf_counter()
    standalone = session.standalone(last)
    rewrite_ms = (time.perf_counter() - started) * 1000
    fired = standalone.strip() != last.strip()
    retriever = assistant.retriever
    raw = retriever.search(last, RETRIEVAL_DEPTH)
    lists = {"raw": raw}
    both_ms = search_ms = None
    if fired:
        started = time.perf_counter()
        lists["rewrite"] = retriever.search(standalone, RETRIEVAL_DEPTH)
        search_ms = (time.perf_counter() - started) * 1000
        for name, (merge, weight) in MERGES.items():
            started = time.perf_counter()
            lists[name] = retriever.search_followup(
                standalone, last, RETRIEVAL_DEPTH, merge, weight
            )
            if name == "both_max":
                both_ms = (time.perf_counter() - started) * 1000
    else:
        lists |= {name: raw for name in METHODS}
    return {
        "id": dialogue["id"],
        "set": dialogue["set"],
        "source": dialogue["source"],
        "kind": dialogue.get("kind", ""),
        "turns": len(dialogue["turns"]),
        "last": last,
        "standalone": standalone,
        "fired": fired,
        "trigger_right": fired == (dialogue.get("kind") != "standalone"),
        "rewrite_ms": round(rewrite_ms, 1),
        "search_ms": None if search_ms is None else round(search_ms, 1),
        "both_ms": None if both_ms is None else round(both_ms, 1),
        "doc_id": dialogue["doc_id"],
        "ranks": {name: _rank(passages, dialogue["doc_id"]) for name, passages in lists.items()},
        "top1": {
            name: passages[0].doc_id if passages else None for name, passages in lists.items()
        },
    }


def _share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summarize(results: list[dict]) -> dict:
    figures = {
        "n": len(results),
        "three_turn": sum(r["turns"] == 3 for r in results),
        "fired": _share([r["fired"] for r in results]),
        "trigger_accuracy": _share([r["trigger_right"] for r in results]),
    }
    for name in METHODS:
        ranks = [r["ranks"][name] for r in results]
        figures[name] = {
            "recall@1": _share([rank == 1 for rank in ranks]),
            "recall@5": _share([rank is not None and rank <= 5 for rank in ranks]),
        }
    return figures


def summarize_all(results: list[dict]) -> dict:
    figures = {"all": summarize(results)}
    groups, by_kind = defaultdict(list), defaultdict(list)
    for r in results:
        groups[r["set"]].append(r)
        groups[f"{r['set']} {r['source']}"].append(r)
        by_kind[r["kind"]].append(r)
    figures |= {name: summarize(groups[name]) for name in sorted(groups)}
    figures["by_kind"] = {
        kind: {"n": len(rs)} | {name: summarize(rs)[name]["recall@1"] for name in METHODS}
        for kind, rs in sorted(by_kind.items())
    }
    # what retrieving with both costs: a search_followup against one search of the rewrite
    figures["rewrite_ms_p50"] = _median([r["rewrite_ms"] for r in results])
    figures["search_ms_p50"] = _median([r["search_ms"] for r in results])
    figures["both_ms_p50"] = _median([r["both_ms"] for r in results])
    return figures


def _median(values: list[float | None]) -> float | None:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _cmrc_index(built: Path | None = None) -> Path:
    """The CMRC subset's index: one already built (`make bench`'s quality step), else the one
    `qa eval` caches (built once, about 9 minutes on 2 cores). Brought up to date either way."""
    from embeddings.indexer import index_documents

    root = built if built and (built / "manifest.json").exists() else None
    root = root or _default_eval_index(CMRC_DOCS)
    index_documents(root, load_corpus_jsonl(CMRC_DOCS))
    return root


def run(
    sources: tuple[str, ...] = ("seeds", "cmrc"),
    details: bool = False,
    quick: bool = False,
    cmrc_index: Path | None = None,
) -> dict:
    """quick: the seed dialogues only (no CMRC index needed)."""
    from embeddings.indexer import build_index

    if quick:
        sources = tuple(s for s in sources if s == "seeds")
    dialogues = [d for d in load_dialogues() if d["source"] in sources]
    backends = ["extractive"] + (["openai"] if os.environ.get("OPENAI_BASE_URL") else [])
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        indexes = {}
        if "seeds" in sources:
            indexes["seeds"] = Path(tmp) / "seeds"
            build_index(indexes["seeds"], [SEEDS])
        if "cmrc" in sources:
            indexes["cmrc"] = _cmrc_index(cmrc_index)
        for backend in backends:
            results = []
            for source, index in indexes.items():
                assistant = Assistant(index=index, backend="extractive")
                if backend == "openai":  # the model rewrites; answers stay extractive
                    from qa.answering.chat_model import ChatModelAnswerer

                    assistant.rewriter = ChatModelAnswerer()
                results += [play(assistant, d) for d in dialogues if d["source"] == source]
            key = "model_free" if backend == "extractive" else "chat_model"
            figures[key] = summarize_all(results)
            if details:
                figures[key]["dialogues"] = results
    return figures


def _row(label: str, cells: list, widths: list[int]) -> str:
    return f"{label:<22}" + "".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--details", action="store_true", help="every dialogue's ranks (JSON)")
    parser.add_argument("--source", choices=("seeds", "cmrc"), help="only these dialogues")
    args = parser.parse_args()
    sources = (args.source,) if args.source else ("seeds", "cmrc")
    figures = run(sources, args.details)
    if args.json or args.details:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        return
    for rewriter, parts in figures.items():
        print(f"== {rewriter} rewrite")
        names = [
            name for name in parts if name not in ("by_kind",) and isinstance(parts[name], dict)
        ]
        widths = [max(10, len(name) + 2) for name in names]
        print(_row("", names, widths))
        for key in ("n", "three_turn", "fired", "trigger_accuracy"):
            print(_row(key, [parts[name][key] for name in names], widths))
        for method in METHODS:
            for at in ("recall@1", "recall@5"):
                cells = [parts[name][method][at] for name in names]
                print(_row(f"{method} {at}", cells, widths))
        print("recall@1 by kind of last turn:")
        for kind, row in parts["by_kind"].items():
            cells = " ".join(f"{m} {row[m]}" for m in METHODS)
            print(f"  {kind:<12} n={row['n']:<3} {cells}")
        print(
            f"ms p50: rewrite {parts['rewrite_ms_p50']}, search of the rewrite "
            f"{parts['search_ms_p50']}, search_followup {parts['both_ms_p50']}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
