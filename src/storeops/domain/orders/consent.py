"""A customer's answer to "may we send a substitute?", read from their own words. Pure.

    read_consent(text) -> ConsentReading(answer=YES | NO | UNCLEAR, words, reasons, only_answer)

The rule is small on purpose, so a person can predict it: phrase lists, matched on whole
words, longest phrase first, with negation. A yes phrase preceded (within NEGATION_REACH
words) by a negator ("not", "don't", "no", ...) counts as a no: "not ok", "no, that's not
fine", "I don't agree" are never a yes. A message with both a yes and a no, with a question
mark, or with neither is UNCLEAR and goes to a person. Quoted e-mail history (lines starting
with ">" and everything after "On ... wrote:") is not read: only what the customer typed now.

What the answer may decide is fixed by the caller, not by the text: it answers the one
question storeops asked about the customer's own waiting order. Nothing in the message
chooses the substitute, another order, a recipient or a policy; `only_answer` just says
whether the message holds anything besides the answer (then the ticket also goes through
the normal support triage, e.g. "yes, and also refund order #1234").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

YES, NO, UNCLEAR = "yes", "no", "unclear"
RULE = "customer_consent@1"

# Whole-word phrases, lower case, apostrophes normalised to "'".
YES_PHRASES = (
    "yes", "yes please", "yeah", "yep", "yup", "sure", "ok", "okay", "k", "fine", "that's fine", "that is fine",
    "thats fine", "that's ok", "that's okay", "go ahead", "ok go ahead", "please go ahead", "i agree", "agree",
    "agreed", "i accept", "accept", "accepted", "sounds good", "works for me", "please do", "do it",
    "no problem", "no worries", "of course", "absolutely", "alright", "all right", "happy with that",
    "i'm happy with that", "send the other one", "send the other", "send a different one", "send the substitute",
    "send the replacement", "send it", "ship it", "ship the substitute", "the other one is fine",
    "substitute is fine", "i'll take it", "i will take it", "that works",
)
NO_PHRASES = (
    "no", "nope", "nah", "no thanks", "no thank you", "i'd rather wait", "i would rather wait", "rather wait",
    "i'll wait", "i will wait", "i can wait", "wait for it", "wait for the item", "wait for the original",
    "i want the original", "only the original", "i don't want a substitute", "i do not want a substitute",
    "no substitute", "no substitutes", "no substitution", "don't substitute", "do not substitute",
    "don't send", "do not send", "don't want", "do not want", "not interested", "i decline", "decline",
    "declined", "back order", "backorder", "back-order",
)
# A negator flips the yes phrase that follows it within NEGATION_REACH words.
NEGATORS = frozenset({"not", "no", "don't", "dont", "do not", "never", "isn't", "isnt", "wasn't", "won't",
                      "wont", "doesn't", "doesnt", "didn't", "cannot", "can't", "cant", "nor", "neither"})
NEGATION_REACH = 3
# Words that may surround an answer without making it "more than an answer".
FILLER = frozenset({
    "hi", "hello", "hey", "dear", "thanks", "thank", "you", "so", "much", "please", "and", "that", "this", "it",
    "is", "the", "a", "an", "one", "other", "for", "me", "my", "i", "we", "would", "be", "fine", "then",
    "just", "also", "sure", "great", "cheers", "regards", "best", "kind", "kindly", "lol", "really", "totally",
    "team", "guys", "all", "good", "very", "with", "of", "to", "too", "alright", "well", "oh", "ah", "sounds",
    "item", "instead", "order", "original", "substitute", "replacement", "different", "color", "colour",
    "size", "variant", "that's", "it's", "i'm", "ok", "okay", "yes",
})

_QUOTE_HEADER = re.compile(r"^\s*(on .{0,200} wrote:|-{2,}\s*original message|from:\s)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A negation reaches no further than its clause: "no, send the other one" is a no and a yes.
_CLAUSE = re.compile(r"[,.;:!?()\n]+|\bbut\b|\bhowever\b")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


@dataclass(frozen=True)
class ConsentReading:
    answer: str  # yes | no | unclear
    words: tuple[str, ...] = ()  # the phrases read as the answer (negated ones as "not ...")
    reasons: tuple[str, ...] = ()
    only_answer: bool = False  # nothing in the message besides the answer and pleasantries
    rule: str = field(default=RULE)

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "words": list(self.words), "reasons": list(self.reasons),
                "only_answer": self.only_answer, "rule": self.rule}


def fresh_text(text: str) -> str:
    """The customer's new words: quoted history (">" lines, "On ... wrote:" and below) removed."""
    kept = []
    for line in (text or "").splitlines():
        if _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().translate(_APOSTROPHES))


def _clauses(text: str) -> tuple[list[str], list[int]]:
    """The words of the text and, for each, the number of the clause it is in."""
    words: list[str] = []
    clause: list[int] = []
    for n, part in enumerate(_CLAUSE.split(text.lower().translate(_APOSTROPHES))):
        found = _words(part)
        words += found
        clause += [n] * len(found)
    return words, clause


def _phrases(items: tuple[str, ...]) -> list[tuple[str, ...]]:
    return sorted({tuple(_words(p)) for p in items}, key=len, reverse=True)


_YES = _phrases(YES_PHRASES)
_NO = _phrases(NO_PHRASES)


def _negated(words: list[str], clause: list[int], start: int) -> bool:
    before = [w for w, c in zip(words[max(0, start - NEGATION_REACH):start],
                                clause[max(0, start - NEGATION_REACH):start], strict=True) if c == clause[start]]
    pairs = {" ".join(before[i:i + 2]) for i in range(len(before) - 1)}
    return any(w in NEGATORS for w in before) or bool(pairs & NEGATORS)


def read_consent(text: str) -> ConsentReading:
    """YES, NO or UNCLEAR for a reply to the substitution question (see the module docstring)."""
    fresh = fresh_text(text)
    words, clause = _clauses(fresh)
    if not words:
        return ConsentReading(UNCLEAR, reasons=("the message has no words of its own",))
    used = [False] * len(words)
    yes: list[str] = []
    no: list[str] = []
    i = 0
    while i < len(words):
        hit = None
        for kind, phrases in (("no", _NO), ("yes", _YES)):
            for phrase in phrases:
                if (tuple(words[i:i + len(phrase)]) == phrase and len(set(clause[i:i + len(phrase)])) == 1
                        and (hit is None or len(phrase) > len(hit[1]))):
                    hit = (kind, phrase)
        if hit is None:
            i += 1
            continue
        kind, phrase = hit
        said = " ".join(phrase)
        if kind == "yes" and _negated(words, clause, i):
            no.append(f"not {said}")
        elif kind == "yes":
            yes.append(said)
        else:
            no.append(said)
        for j in range(i, i + len(phrase)):
            used[j] = True
        i += len(phrase)
    # A negator that only served to flip a yes ("not ok") is part of the answer, not extra text.
    leftover = [w for w, u in zip(words, used, strict=True) if not u and w not in FILLER and w not in NEGATORS]
    only_answer = not leftover and not any(ch.isdigit() for ch in fresh)
    if "?" in fresh:
        return ConsentReading(UNCLEAR, tuple(yes + no), ("the message asks a question",), only_answer)
    if yes and no:
        return ConsentReading(UNCLEAR, tuple(yes + no), ("the message says both yes and no",), only_answer)
    if yes:
        return ConsentReading(YES, tuple(yes), (), only_answer)
    if no:
        return ConsentReading(NO, tuple(no), (), only_answer)
    return ConsentReading(UNCLEAR, (), ("no clear yes or no",), False)
