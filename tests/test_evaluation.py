"""`qa eval`: metric arithmetic on a hand-checked example, input errors, and a real run."""

import json

import pytest
from typer.testing import CliRunner

from embeddings.errors import QAError
from qa.cli import app
from qa.evaluation import EvalQuestion, score_question, summarize
from qa.records import Answer, AnswerSentence, Citation, Passage

DOC_TEXT = {"a": "甲城的人口是100万。乙城在河边。", "b": "丙城有一座塔。", "c": "丁城很冷。"}


def _passage(n, doc_id):
    text = DOC_TEXT[doc_id]
    return Passage(n, doc_id, doc_id, text, 0, len(text), 1.0 - n / 10)


def _answer(text, abstained=False, citations=(), invented=(), supported=(), corrected=None):
    return Answer(
        "q",
        text,
        list(citations),
        [],
        "extractive",
        abstained,
        {"retrieve": 10.0, "answer": 20.0},
        invented_citations=list(invented),
        sentences=[AnswerSentence(text, [1], verdict, corrected) for verdict in supported],
    )


def _result(question, ranked, answer):
    passages = [_passage(n, d) for n, d in enumerate(ranked, start=1)]
    return score_question(
        question,
        [p.doc_id for p in passages],
        [p.text for p in passages[:5]],
        answer,
        DOC_TEXT.get,
    )


def test_metrics_on_a_hand_checked_example():
    population = EvalQuestion("1", "甲城人口多少？", ["100万"], "a")
    tower = EvalQuestion("2", "哪座城有塔？", ["丙城"], "b")
    cold = EvalQuestion("3", "丁城冷吗？", ["很冷"], "c")
    unknown = EvalQuestion("4", "戊城在哪？", [], None, kind="unanswerable")
    good_quote = Citation(1, "a", "a", "甲城的人口是100万。", 0, 11)
    bad_quote = Citation(2, "b", "b", "丙城有兩座塔。", 0, 7)
    results = [
        # rank 1, correct answer with a valid citation
        _result(
            population,
            ["a", "b", "c"],
            _answer(
                "甲城的人口是100万。[1]", citations=[good_quote], supported=[True], corrected=[3]
            ),
        ),
        # rank 3, wrong answer whose citation quotes what the document does not say
        _result(
            tower,
            ["a", "c", "b"],
            _answer("乙城。[2]", citations=[bad_quote], invented=[9], supported=[False]),
        ),
        # not retrieved at all, and refused
        _result(cold, ["a", "b", "a"], _answer("资料中没有相关信息。", abstained=True)),
        # unanswerable and refused
        _result(unknown, ["a", "b", "c"], _answer("资料中没有相关信息。", abstained=True)),
    ]
    assert [r.rank for r in results[:3]] == [1, 3, None]
    assert [r.correct for r in results] == [True, False, False, True]
    metrics = summarize(results, index_seconds=1.5)
    assert metrics["n"] == 4
    assert metrics["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-4)
    # top-5 passages hold "100万" for q1 and "丙城" for q2; q3's passages lack "很冷"
    assert metrics["answer_recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["abstain_accuracy"] == 1.0
    assert metrics["false_abstain_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["citation_validity"] == 0.5
    assert metrics["invented_citations"] == 1
    assert metrics["corrected_citations"] == 1
    assert metrics["supported_sentence_rate"] == 0.5  # one of the two answer sentences
    assert metrics["retrieval_ms_p50"] == 10.0 and metrics["answer_ms_p50"] == 20.0
    assert metrics["index_seconds"] == 1.5 and metrics["peak_rss_mb"] > 0
    assert metrics["answer_chars_mean"] == pytest.approx((len("甲城的人口是100万。") + 3) / 2)


runner = CliRunner()


def _write(path, lines):
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    return _write(
        tmp_path / "docs.jsonl",
        [
            json.dumps(
                {
                    "doc_id": "hz",
                    "title": "杭州",
                    "text": "杭州西湖位於浙江省杭州市西部，是著名的風景區。",
                },
                ensure_ascii=False,
            )
            + "\n",
            json.dumps(
                {"doc_id": "sz", "title": "深圳", "text": "深圳的公交機動化分擔率達56.5%。"},
                ensure_ascii=False,
            )
            + "\n",
        ],
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"id": "1", "question": "西湖在哪？", "answers": [], "doc_id": "hz"}\n', "{oops\n"],
            "questions.jsonl:2: bad JSON",
        ),
        (
            ['{"id": "1", "answers": [], "doc_id": "hz"}\n'],
            "questions.jsonl:1: 'question' is missing",
        ),
        (
            ['{"id": "q7", "question": "?", "answers": [], "doc_id": "nowhere"}\n'],
            "question q7 names unknown doc_id 'nowhere'",
        ),
    ],
)
def test_bad_question_files_are_one_line_naming_file_and_line(tmp_path, corpus, lines, message):
    questions = _write(tmp_path / "questions.jsonl", lines)
    result = runner.invoke(
        app,
        [
            "eval",
            "--docs",
            str(corpus),
            "--questions",
            str(questions),
            "--index",
            str(tmp_path / "ix"),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_questions_file_is_named(tmp_path, corpus):
    result = runner.invoke(
        app, ["eval", "--docs", str(corpus), "--questions", str(tmp_path / "no.jsonl")]
    )
    assert result.exit_code == 1 and "error: no such file:" in result.stderr


@pytest.mark.integration
def test_eval_runs_end_to_end_on_a_jsonl_corpus_and_reports_failures(tmp_path, corpus):
    questions = _write(
        tmp_path / "questions.jsonl",
        [
            '{"id": "1", "question": "深圳公交機動化分擔率是多少？", "answers": ["56.5%"], "doc_id": "sz"}\n',
            '{"id": "2", "question": "西湖在哪个省？", "answers": ["浙江"], "doc_id": "hz"}\n',
            '{"id": "3", "question": "北京的人口是多少？", "answers": [], "doc_id": null, "kind": "unanswerable"}\n',
        ],
    )
    report = tmp_path / "failed.jsonl"
    args = [
        "eval",
        "--docs",
        str(corpus),
        "--questions",
        str(questions),
        "--json",
        "--index",
        str(tmp_path / "ix"),
        "--report",
        str(report),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    for key in (
        "n",
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr",
        "answer_recall@5",
        "answer_accuracy",
        "abstain_accuracy",
        "false_abstain_rate",
        "citation_validity",
        "retrieval_ms_p50",
        "retrieval_ms_p95",
        "answer_ms_p50",
        "index_seconds",
        "peak_rss_mb",
    ):
        assert key in metrics
    assert metrics["n"] == 3 and metrics["recall@1"] == 1.0
    assert metrics["answer_accuracy"] == 1.0 and metrics["abstain_accuracy"] == 1.0
    assert metrics["citation_validity"] == 1.0
    assert report.read_text(encoding="utf-8") == ""  # nothing failed
    # the second run reuses the index: nothing is embedded again
    again = runner.invoke(app, args)
    assert json.loads(again.stdout)["index_seconds"] < metrics["index_seconds"]


@pytest.mark.integration
def test_evals_own_cached_index_from_an_older_qa_is_rebuilt_a_users_is_not(tmp_path, corpus):
    from qa.evaluation import _default_eval_index, evaluate, load_eval_inputs

    questions = _write(
        tmp_path / "questions.jsonl",
        ['{"id": "1", "question": "西湖在哪个省？", "answers": ["浙江"], "doc_id": "hz"}\n'],
    )
    inputs = load_eval_inputs(corpus, questions)
    for root in (_default_eval_index(corpus), tmp_path / "mine"):
        root.mkdir(parents=True)
        (root / "manifest.json").write_text('{"format_version": 1}', encoding="utf-8")
    assert evaluate(inputs).metrics["answer_accuracy"] == 1.0
    with pytest.raises(QAError, match="another version of qa"):
        evaluate(inputs, index=tmp_path / "mine")


def test_a_folder_of_documents_is_checked_against_the_questions_doc_ids():
    from pathlib import Path

    from qa.config import seeds_dir
    from qa.evaluation import load_eval_inputs

    questions = Path(__file__).parent / "data" / "seed_qa.jsonl"
    inputs = load_eval_inputs(seeds_dir(), questions)
    assert inputs.corpus is None and len(inputs.questions) == 16
