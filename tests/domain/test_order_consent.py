"""The customer's yes / no to a substitution, read from their words (domain/orders/consent.py)."""

from __future__ import annotations

import pytest

from storeops.domain.orders.consent import NO, UNCLEAR, YES, fresh_text, read_consent


@pytest.mark.parametrize("text", [
    "yes", "Yes please!", "yes please", "that's fine", "That\u2019s fine, thanks", "ok go ahead", "OK, go ahead.",
    "sure, send the other one", "I agree", "Sounds good", "No problem, go ahead", "Hi, yes that works for me. Thanks!",
    "yep", "Okay", "fine by me",
])
def test_a_clear_yes(text: str) -> None:
    reading = read_consent(text)
    assert reading.answer == YES, reading
    assert reading.words  # the words read as consent are kept for the decision record


@pytest.mark.parametrize("text", [
    "no", "No thanks", "no thank you", "I'd rather wait", "I would rather wait for it", "don't send a different one",
    "Do not send a substitute", "not ok", "no, that's not fine", "I don't agree", "Nope.", "I'll wait",
    "that's not fine", "It is not okay",
])
def test_a_clear_no(text: str) -> None:
    assert read_consent(text).answer == NO, read_consent(text)


@pytest.mark.parametrize("text", [
    "not ok", "no, that's not fine", "that is not fine", "I don't agree", "I do not accept", "never ok",
    "isn't fine", "not sure",
])
def test_negation_is_never_a_yes(text: str) -> None:
    assert read_consent(text).answer in (NO, UNCLEAR)


@pytest.mark.parametrize("text, why", [
    ("Is the other one the same size?", "question"),
    ("Yes? What colour is it?", "question"),
    ("No, send the other one", "both"),  # a negation stops at the comma: a no and a yes
    ("ok but I'd rather wait", "both"),
    ("hmm, let me think about it", "no clear"),
    ("", "no words"),
    ("What is this about", "no clear"),
])
def test_anything_else_is_unclear(text: str, why: str) -> None:
    reading = read_consent(text)
    assert reading.answer == UNCLEAR
    assert any(why in r for r in reading.reasons), reading.reasons


def test_quoted_history_is_not_read() -> None:
    text = "Yes\n\nOn Mon, Nov 2, 2026 at 10:00, Shop <help@shop.test> wrote:\n> No substitute? Reply yes or no."
    assert fresh_text(text) == "Yes"
    assert read_consent(text).answer == YES
    assert read_consent("> yes please\nno thanks").answer == NO


def test_a_yes_with_another_request_is_a_yes_but_not_only_an_answer() -> None:
    # The caller approves only the customer's own waiting order; the refund goes to triage.
    reading = read_consent("yes, and also refund order #1234")
    assert reading.answer == YES and reading.words == ("yes",)
    assert not reading.only_answer
    assert read_consent("Yes please, thanks so much!").only_answer
    assert read_consent("no thanks, I'll wait").only_answer


def test_the_reading_is_a_plain_record() -> None:
    assert read_consent("sure, send the other one").as_dict() == {
        "answer": "yes", "words": ["sure", "send the other one"], "reasons": [], "only_answer": True,
        "rule": "customer_consent@1"}
