"""Interpretable features of a message (and its conversation) for the rule-based timing decider."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.llm.base import Message

ACTION_VERBS = {
    "book", "reserve", "send", "email", "text", "message", "create", "schedule", "buy", "order", "purchase", "cancel",
    "delete", "remove", "set", "remind", "convert", "translate", "calculate", "compute", "search", "find", "look",
    "check", "get", "fetch", "show", "list", "play", "call", "update", "add", "download", "upload", "track", "pay",
    "transfer", "open", "close", "start", "stop", "turn", "generate", "post", "share", "subscribe", "notify", "locate",
    "retrieve", "query", "lookup", "monitor", "rename", "move", "copy", "save", "export", "import", "run", "deploy",
    "resize", "compress", "scan", "upgrade", "install", "measure", "verify", "validate", "report", "recommend",
}
REALTIME = {
    "now", "today", "tonight", "tomorrow", "yesterday", "current", "currently", "latest", "live", "recent", "recently",
    "price", "prices", "weather", "forecast", "stock", "stocks", "news", "score", "scores", "status", "traffic",
    "rate", "rates", "trending", "upcoming", "available", "availability", "schedule", "flight", "flights", "balance",
    "my", "our", "this", "next", "week", "weekend", "open", "nearby", "near",
}
KNOWLEDGE_OPENERS = ("what is", "what are", "who was", "who is", "why", "explain", "how does", "how do", "what does",
                     "define", "tell me about", "describe", "what's the difference", "what would", "is it true")
CHITCHAT = ("hi", "hello", "hey", "thanks", "thank you", "good morning", "good night", "how are you", "bye", "ok",
            "okay", "cool", "great", "nice", "lol", "sounds good")
CREATIVE = ("write a", "write me", "compose", "poem", "story", "joke", "haiku", "essay", "summarize this", "rephrase",
            "brainstorm", "give me ideas", "opinion", "what do you think", "advice", "tips")
_MONTHS = r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?|oct(ober)?|nov(ember)?|dec(ember)?"
DATE_RE = re.compile(rf"\b(\d{{1,2}}[/.-]\d{{1,2}}([/.-]\d{{2,4}})?|\d{{4}}-\d{{2}}-\d{{2}}|({_MONTHS})\s+\d{{1,2}}|"
                     r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d{1,2}(:\d{2})?\s*(am|pm))\b", re.I)
AMOUNT_RE = re.compile(r"([$€£¥]\s?\d|\b\d+(\.\d+)?\s?(usd|eur|gbp|dollars?|euros?|km|kg|miles?|%)\b)", re.I)
ID_RE = re.compile(r"\b([A-Z]{2,}\d+|\d{3,}|[\w.-]+@[\w-]+\.\w+|https?://\S+)")
PROPER_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}")
WORD_RE = re.compile(r"[a-z']+")


@dataclass
class TimingFeatures:
    action_verb: bool = False
    realtime: bool = False
    date: bool = False
    amount: bool = False
    identifier: bool = False
    proper_noun: bool = False
    knowledge_question: bool = False
    chitchat: bool = False
    creative: bool = False
    result_in_context: bool = False
    tool_score: float = 0.0  # best selector score of any tool for the message, squashed to [0, 1]
    matched: list[str] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def _result_in_context(message: str, context: Sequence[Message]) -> bool:
    """A tool result after the last user turn that shares content words with this message."""
    results = []
    for m in reversed(list(context)):
        if m.get("role") == "tool":
            results.append(m.get("content") or "")
        elif m.get("role") == "user":
            break
    if not results:
        return False
    msg = {w for w in _words(message) if len(w) > 3}
    res = {w for r in results for w in _words(r) if len(w) > 3}
    followup = any(w in message.lower() for w in ("that", "it", "this", "those", "them", "so ", "which", "the result"))
    return bool(msg & res) or followup


def extract_features(message: str, context: Sequence[Message] = (), tool_score: float = 0.0) -> TimingFeatures:
    text = message.strip()
    low = text.lower()
    words = _words(text)
    f = TimingFeatures(tool_score=tool_score)
    verbs = [w for w in words[:6] if w in ACTION_VERBS]
    f.action_verb = bool(verbs) or any(p in low for p in ("can you ", "could you ", "please ", "i need ", "i want ", "i'd like"))
    rt = [w for w in words if w in REALTIME]
    f.realtime = bool(rt)
    f.date = bool(DATE_RE.search(text))
    f.amount = bool(AMOUNT_RE.search(text))
    f.identifier = bool(ID_RE.search(text))
    f.proper_noun = bool(PROPER_RE.search(text))
    f.knowledge_question = low.startswith(KNOWLEDGE_OPENERS) and not f.realtime
    f.chitchat = len(words) <= 6 and any(low.startswith(c) for c in CHITCHAT)
    f.creative = any(c in low for c in CREATIVE)
    f.result_in_context = _result_in_context(text, context)
    f.matched = verbs + rt
    return f


WEIGHTS: dict[str, float] = {
    "bias": -0.9, "action_verb": 1.3, "realtime": 1.1, "date": 0.7, "amount": 0.6, "identifier": 0.8,
    "proper_noun": 0.3, "knowledge_question": -1.2, "chitchat": -3.0, "creative": -1.4, "result_in_context": -2.6,
    "tool_score": 2.0,
}


def logit(f: TimingFeatures, weights: dict[str, float] = WEIGHTS) -> float:
    z = weights["bias"] + weights["tool_score"] * f.tool_score
    for k, w in weights.items():
        if k not in ("bias", "tool_score") and getattr(f, k):
            z += w
    return z
