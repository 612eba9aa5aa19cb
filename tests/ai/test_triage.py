"""Message triage with the shipped model: intents, out-of-scope, frustration, urgency,
language, the `storeops ai classify-messages` CSV command, and retraining with a
merchant's own intent."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from storeops.ai.triage import (
    DEFAULT_MODEL_DIR,
    OTHER,
    CustomerHistory,
    InvalidTrainingData,
    LabelledExample,
    Triage,
    TriageResult,
    detect_language,
    load_default_model,
    message_signals,
)
from storeops.ai.triage.features import TfidfBlock, normalize
from storeops.ai.triage.training import load_base_examples
from storeops.cli.ai_cmd import app as ai_app


@pytest.fixture(scope="module")
def triage() -> Triage:
    return load_default_model()


@pytest.mark.parametrize(("text", "intent"), [
    ("I want to cancel my order", "cancel_order"),
    ("where is my package? I'd like to track it", "track_order"),
    ("I forgot my password, how do I reset it?", "recover_password"),
    ("I need to change the shipping address of my order", "change_shipping_address"),
    ("please unsubscribe me from your newsletter", "newsletter_subscription"),
    pytest.param("I was charged twice for the same order", "payment_issue", marks=pytest.mark.xfail(
        strict=True, reason="known regression since training on bitext_dev's calibration part: that sample labels "
        "'I can't pay for the order' cancel_order, and double-charge wording now goes to cancel_order "
        "(models/README.md, issue #6 report)")),
    ("can I get a refund?", "get_refund"),
    ("I want to talk to a real person", "contact_human_agent"),
    ("how long does delivery take?", "delivery_period"),
    ("I'd like to delete my account", "delete_account"),
])
def test_known_messages_get_their_intent(triage: Triage, text: str, intent: str) -> None:
    result = triage.classify(text)
    assert result.intent == intent, result
    assert 0.0 < result.confidence <= 1.0
    assert not result.out_of_scope


@pytest.mark.parametrize("text", [
    "what's the weather going to be like in Paris tomorrow",
    "how many calories are in a banana",
    "who won the world cup in 2014",
    "asdkjh qwpoeiru zmxnbv",
    "jjjjjjjjjj kkkkkk",
    "",
    "   ",
])
def test_out_of_scope_and_gibberish_are_other(triage: Triage, text: str) -> None:
    result = triage.classify(text)
    assert result.intent == OTHER, result
    assert result.out_of_scope


def test_result_fields(triage: Triage) -> None:
    results = triage.classify_many(["where is my order?", "", "I WANT MY MONEY BACK NOW"])
    assert len(results) == 3
    for r in results:
        assert isinstance(r, TriageResult)
        assert r.urgency in ("low", "normal", "high", "urgent")
        assert 0.0 <= r.frustration <= 1.0
        assert 0.0 <= r.confidence <= 1.0
        assert r.out_of_scope == (r.intent == OTHER)
    assert triage.classify_many([]) == []
    assert OTHER in triage.intents and len(triage.intents) == 28
    assert triage.version.startswith("triage-")


def test_angry_chargeback_threat_is_more_frustrated_than_a_polite_question(triage: Triage) -> None:
    angry = triage.classify("This is RIDICULOUS!!! Third time I'm asking. Refund me today or I file a chargeback "
                            "with my bank and leave a 1-star review everywhere")
    polite = triage.classify("Hi, could you tell me when my order will arrive? Thank you!")
    assert angry.frustration > 0.8 > 0.3 > polite.frustration
    assert angry.threats and angry.urgency == "urgent"


def test_history_raises_frustration(triage: Triage) -> None:
    text = "where is my order?"
    calm = triage.classify(text).frustration
    chased = triage.classify(text, CustomerHistory(contacts_last_7_days=3, open_exceptions=1, days_shipment_late=6))
    assert chased.frustration > calm + 0.3
    assert chased.urgency == "urgent"  # frustrated and coming back


def test_message_signals() -> None:
    s = message_signals("WHERE IS MY ORDER?!? I have asked AGAIN and again. My lawyer will hear about this")
    assert s.shouting > 0.3 and s.punctuation_runs >= 1 and s.repeat_phrases >= 2
    assert message_signals("WHERE IS MY ORDER").shouting == 1.0
    assert "lawyer" in s.threats
    assert not message_signals("Thanks a lot, have a nice day").threat
    assert message_signals("thank you").polite


@pytest.mark.parametrize(("text", "history", "urgency"), [
    ("I will dispute this charge with my bank", None, "urgent"),
    ("someone hacked my account and placed orders", None, "urgent"),
    ("I need to cancel my order", None, "high"),
    ("please change the delivery address on my order", None, "high"),
    ("where is my order", CustomerHistory(days_shipment_late=3), "high"),
    ("how do i create an account? i need it asap", None, "high"),
    ("how can I leave a review for your service?", None, "low"),
    ("subscribe me to the newsletter please", None, "low"),
    ("where is my order", None, "normal"),
])
def test_urgency_rules(triage: Triage, text: str, history: CustomerHistory | None, urgency: str) -> None:
    assert triage.classify(text, history).urgency == urgency


@pytest.mark.parametrize(("text", "language"), [
    ("Where is my order? I have been waiting for two weeks", "en"),
    ("Hola, ¿dónde está mi pedido? Todavía no ha llegado", "es"),
    ("Bonjour, je n'ai toujours pas reçu ma commande", "fr"),
    ("Hallo, wo ist meine Bestellung? Ich warte noch immer", "de"),
    ("Ciao, dove è il mio ordine? Non è ancora arrivato", "it"),
    ("Olá, onde está a minha encomenda? Ainda não chegou", "pt"),
    ("Hallo, waar is mijn bestelling? Ik wacht nog steeds", "nl"),
    ("", "und"),
    ("12345 !!!", "und"),
    ("Где мой заказ?", "und"),
])
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_language_in_result(triage: Triage) -> None:
    assert triage.classify("¿Dónde está mi pedido?").language == "es"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_classify_messages_csv_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "messages.csv"
    _write_csv(source, ["channel", "id", "text", "customer"], [
        ["email", "m-1", "I want to cancel my order", "c1"],
        ["chat", "m-2", "", "c2"],
        ["email", "m-3", 'He said "refund", then, nothing.\nWhere is my money back?', "c3"],
        ["email", "m-4", "what's the weather in Paris tomorrow", "c4"],
    ])
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(ai_app, ["classify-messages", "--in", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["id", "intent", "confidence", "urgency", "frustration"]
    assert [r["id"] for r in rows] == ["m-1", "m-2", "m-3", "m-4"]
    assert rows[0]["intent"] == "cancel_order"
    assert rows[1]["intent"] == OTHER
    assert rows[3]["intent"] == OTHER
    for r in rows:
        assert 0.0 <= float(r["confidence"]) <= 1.0 and 0.0 <= float(r["frustration"]) <= 1.0
        assert r["urgency"] in ("low", "normal", "high", "urgent")


def test_classify_messages_needs_a_text_column(tmp_path: Path) -> None:
    source = tmp_path / "messages.csv"
    _write_csv(source, ["id", "body"], [["1", "hello"]])
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(ai_app, ["classify-messages", "--in", str(source), "--out", str(out)])
    assert result.exit_code == 2
    assert "missing column(s) text" in result.output
    assert not out.exists()


def test_classify_messages_missing_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(ai_app, ["classify-messages", "--in", str(tmp_path / "nope.csv"),
                                         "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 2 and "no such file" in result.output


PRODUCT_QUESTIONS = [
    "does the {item} come in size {size}?", "is the {item} available in {color}?",
    "what material is the {item} made of?", "is the {item} machine washable?",
    "how does the {item} fit, true to size?", "what are the measurements of the {item} in {size}?",
    "is the {color} {item} waterproof?", "will the {item} be back in stock in {size}?",
]


def _product_questions() -> list[LabelledExample]:
    items = ["jacket", "dress", "sweater", "backpack", "sneakers", "scarf", "raincoat", "jeans"]
    sizes = ["S", "M", "L", "XL", "10", "42"]
    colors = ["red", "navy", "black", "olive", "beige"]
    out = []
    for i, template in enumerate(PRODUCT_QUESTIONS):
        for j, item in enumerate(items):
            out.append(LabelledExample(template.format(item=item, size=sizes[(i + j) % len(sizes)],
                                                       color=colors[(i * 3 + j) % len(colors)]), "product_question"))
    return out


def test_retrain_adds_a_merchant_intent(triage: Triage, tmp_path: Path) -> None:
    # A small, stratified subset of the shipped training examples keeps this test quick.
    base = load_base_examples(DEFAULT_MODEL_DIR)
    rng = np.random.default_rng(0)
    by_intent: dict[str, list[LabelledExample]] = {}
    for example in base:
        by_intent.setdefault(example.intent, []).append(example)
    # every `other` example: with a few dozen, a new intent's questions swallow unrelated ones
    subset = [ex for name, group in by_intent.items()
              for ex in (group if name == OTHER else rng.permutation(np.array(group, dtype=object))[:25])]
    retrained = triage.retrain(_product_questions(), base_examples=subset)
    assert "product_question" in retrained.intents and "product_question" not in triage.intents
    assert retrained.version != triage.version
    assert retrained.classify("does the wool coat come in a size medium?").intent == "product_question"
    assert retrained.classify("is this hoodie available in grey?").intent == "product_question"
    assert retrained.classify("I want to cancel my order").intent == "cancel_order"
    assert retrained.classify("how many calories are in a banana").intent == OTHER
    assert retrained.classify("who won the world cup in 2014").intent == OTHER

    retrained.save(tmp_path / "model")
    reloaded = Triage.load(tmp_path / "model")
    assert reloaded.intents == retrained.intents
    assert reloaded.classify("is the parka waterproof?").intent == "product_question"
    assert len(load_base_examples(tmp_path / "model")) == len(subset) + len(PRODUCT_QUESTIONS) * 8


def test_retrain_rejects_bad_examples(triage: Triage) -> None:
    with pytest.raises(InvalidTrainingData, match="empty text"):
        triage.retrain([("  ", "product_question")], base_examples=[])
    with pytest.raises(InvalidTrainingData, match="not a lowercase name"):
        triage.retrain([("is it red?", "Product Question!")], base_examples=[])
    with pytest.raises(InvalidTrainingData, match="no labelled examples"):
        triage.retrain([], base_examples=[])


def test_shipped_model_is_small_and_pickle_free() -> None:
    files = [p for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 20_000_000
    for path in files:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:  # raises if anything needs pickle
                assert all(arrays[name].dtype != object for name in arrays.files)


def test_tfidf_matches_scikit_learn() -> None:
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    texts = ["I want to cancel my order!", "cancel order", "where is my  package, please?", "a", "ok ok ok",
             "Can u help me track my order", "i want a refund"]
    for kind, (low, high), analyzer in [("word", (1, 2), "word"), ("char", (2, 5), "char_wb")]:
        reference = sklearn_text.TfidfVectorizer(sublinear_tf=True, ngram_range=(low, high), analyzer=analyzer,
                                                 min_df=1).fit(texts)
        ours = TfidfBlock.fit(texts, kind, low, high, min_df=1)
        assert set(reference.vocabulary_) == set(ours.vocabulary)
        order = [reference.vocabulary_[t] for t in sorted(ours.vocabulary, key=ours.vocabulary.__getitem__)]
        expected = reference.transform(texts).toarray()[:, order]
        np.testing.assert_allclose(ours.transform([normalize(t) for t in texts]).toarray(), expected, atol=1e-6)


def test_train_intents_cli_adds_the_shops_intent_and_the_worker_loads_it(tmp_path: Path) -> None:
    source = tmp_path / "labelled.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["ticket", "text", "intent"])
        for n, example in enumerate(_product_questions()):
            writer.writerow([n, example.text, example.intent])
    out = tmp_path / "model"
    result = CliRunner().invoke(ai_app, ["train-intents", "--examples", str(source), "--out", str(out),
                                         "--base-sample", "3000"])
    assert result.exit_code == 0, result.output
    assert "new intents: product_question" in result.output
    assert "accuracy on 12 held-out shop examples" in result.output  # every 5th of 64
    retrained = Triage.load(out)
    assert retrained.classify("does the wool coat come in a size medium?").intent == "product_question"
    assert retrained.classify("I want to cancel my order").intent == "cancel_order"

    from storeops.core.settings import Settings
    from storeops.db.session import Database
    from storeops.flows import support
    from storeops.flows.runtime import Worker

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'w.db'}",
                        triage_model_dir=out, log_json=False)
    try:
        Worker(settings, Database(settings.resolved_database_url))
        assert "product_question" in support._triage_model().intents
    finally:
        support.load_model(load_default_model())  # later tests in this process get the shipped one


def test_train_intents_cli_refuses_bad_examples_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,greeting\n", encoding="utf-8")
    out = tmp_path / "model"
    result = CliRunner().invoke(ai_app, ["train-intents", "--examples", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "missing column(s) intent" in result.output
    bad.write_text("text,intent\nhello,Not A Name\n", encoding="utf-8")
    result = CliRunner().invoke(ai_app, ["train-intents", "--examples", str(bad), "--out", str(out),
                                         "--base-sample", "500"])
    assert result.exit_code == 2 and "is not a lowercase name" in result.output
    assert not out.exists()
