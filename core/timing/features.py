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
    # added (validation split errors, bench/tune_timing.py): device / record operations
    "switch", "dim", "lock", "unlock", "mute", "unmute", "pause", "resume", "refund", "reset", "enable", "disable",
    "restore", "archive", "duplicate", "declare", "change", "assign", "approve", "mark", "pin", "snooze", "sync",
    "see", "pull", "log", "submit", "register", "renew", "return", "reorder", "print",
}
REALTIME = {
    "now", "today", "tonight", "tomorrow", "yesterday", "current", "currently", "latest", "live", "recent", "recently",
    "price", "prices", "weather", "forecast", "stock", "stocks", "news", "score", "scores", "status", "traffic",
    "rate", "rates", "trending", "upcoming", "available", "availability", "schedule", "flight", "flights", "balance",
    "my", "our", "this", "next", "week", "weekend", "open", "nearby", "near",
    # added: chat shorthand for "right now" and other time cues
    "rn", "atm", "tonite", "later", "season", "morning", "afternoon", "evening",
}
KNOWLEDGE_OPENERS = ("what is", "what are", "who was", "who is", "why", "explain", "how does", "how do", "what does",
                     "define", "tell me about", "describe", "what's the difference", "what would", "is it true")
# definitional questions are knowledge questions even when they mention domain words (flight, price, now)
DEFINITION_RE = re.compile(r"\bwhat (does|do|is) .+ (actually )?mean\b|\bin (simple|plain) terms\b|like i'?m (five|5)\b|"
                           r"\beli5\b|\bdefin(e|ition)\b|\bmeaning of\b|\bdifference between\b")
POLITE_REQUEST = ("can you ", "could you ", "please ", "i need ", "i want ", "i'd like", "would you ", "you could ",
                  "can u ", "pls ", "pull up ", "go ahead", "do me a favour", "do me a favor", "real quick")
# a follow-up that asks for the same kind of answer about something new -> a new tool call
NEW_REQUEST_RE = re.compile(r"^(and |ok,? |okay,? )?((now )?(check|do|try|get|look up) .+ (too|as well)\b|"
                            r"(how|what) about .+|same (question|thing|again) for .+|(now )?do the same for .+)$")
# asking about what was already said -> the answer is in the context
RECALL = ("what you just told", "you just said", "remind me what", "what did you find", "in plain words",
          "more simply", "short version", "explain that", "what does that mean", "say that again", "tl;dr", "tldr")
CHITCHAT = ("hi", "hello", "hey", "thanks", "thank you", "good morning", "good night", "how are you", "bye", "ok",
            "okay", "cool", "great", "nice", "lol", "sounds good")
CREATIVE = ("write a", "write me", "compose", "poem", "story", "joke", "haiku", "essay", "summarize this", "rephrase",
            "brainstorm", "give me ideas", "opinion", "what do you think", "advice", "tips",
            # added: rewriting and short creative pieces
            "make this sound", "more formal", "more casual", "rewrite", "paraphrase", "proofread", "suggest",
            "tagline", "slogan", "limerick", "invent a", "title for", "caption")
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
    new_request: bool = False  # follow-up asking the same thing about something new, after a tool result
    tool_score: float = 0.0  # best selector score of any tool for the message, squashed to [0, 1]
    matched: list[str] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def _tool_results(context: Sequence[Message]) -> list[str]:
    results = []
    for m in reversed(list(context)):
        if m.get("role") == "tool":
            results.append(m.get("content") or "")
        elif m.get("role") == "user":
            break
    return results


def _result_in_context(message: str, context: Sequence[Message]) -> bool:
    """A tool result after the last user turn that shares content words with this message."""
    results = _tool_results(context)
    if not results:
        return False
    if any(r in message.lower() for r in RECALL):
        return True
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
    f.action_verb = bool(verbs) or any(p in low for p in POLITE_REQUEST)
    rt = [w for w in words if w in REALTIME]
    f.realtime = bool(rt)
    f.date = bool(DATE_RE.search(text))
    f.amount = bool(AMOUNT_RE.search(text))
    f.identifier = bool(ID_RE.search(text))
    f.proper_noun = bool(PROPER_RE.search(text))
    definition = bool(DEFINITION_RE.search(low))
    if definition:  # "what does buy now, pay later mean?": the domain words describe the topic, not a request
        f.action_verb = f.realtime = False
    f.knowledge_question = (low.startswith(KNOWLEDGE_OPENERS) and not f.realtime) or definition
    f.chitchat = len(words) <= 6 and any(low.startswith(c) for c in CHITCHAT)
    f.creative = any(c in low for c in CREATIVE)
    f.new_request = bool(_tool_results(context)) and bool(NEW_REQUEST_RE.match(low.rstrip("?!. ").rstrip(",")))
    f.result_in_context = not f.new_request and _result_in_context(text, context)
    f.matched = verbs + rt
    return f


WEIGHTS: dict[str, float] = {
    "bias": -0.9, "action_verb": 1.3, "realtime": 1.1, "date": 0.7, "amount": 0.6, "identifier": 0.8,
    "proper_noun": 0.3, "knowledge_question": -1.2, "chitchat": -3.0, "creative": -1.4, "result_in_context": -2.6,
    "new_request": 1.5,
    "tool_score": 2.0,
}


def logit(f: TimingFeatures, weights: dict[str, float] = WEIGHTS) -> float:
    z = weights["bias"] + weights["tool_score"] * f.tool_score
    for k, w in weights.items():
        if k not in ("bias", "tool_score") and getattr(f, k):
            z += w
    return z
