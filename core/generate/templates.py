"""Phrasing templates, split into disjoint TRAIN and TEST sets.

``{vp}`` is a tool intent (an imperative verb phrase such as "check the current weather in
Oslo"); ``{VP}`` is the same with a capital first letter. TEST templates (used by the test,
test_extended and validation splits) never occur in training. Template ids start with the
task and the split so every sample can say which template produced it.
"""

from __future__ import annotations

# ------------------------------------------------------------------ single-request wrappers
SELECTION_TRAIN: list[tuple[str, str]] = [
    ("req-tr-01", "{VP}."),
    ("req-tr-02", "Can you {vp}?"),
    ("req-tr-03", "Please {vp}."),
    ("req-tr-04", "I need you to {vp}."),
    ("req-tr-05", "Could you {vp} for me?"),
    ("req-tr-06", "Hey, {vp}."),
    ("req-tr-07", "{VP} - thanks!"),
    ("req-tr-08", "Can you please {vp}?"),
    ("req-tr-09", "Assistant, {vp}."),
    ("req-tr-10", "I'd appreciate it if you could {vp}."),
]
SELECTION_TEST: list[tuple[str, str]] = [
    ("req-te-01", "{VP}, please."),
    ("req-te-02", "Would you {vp}?"),
    ("req-te-03", "I'd like you to {vp}."),
    ("req-te-04", "Quick favour: {vp}."),
    ("req-te-05", "When you get a chance, {vp}."),
    ("req-te-06", "Go ahead and {vp}."),
    ("req-te-07", "Hi! Could you please {vp}?"),
    ("req-te-08", "Do me a favour and {vp}."),
    ("req-te-09", "Right now I need you to {vp}."),
    ("req-te-10", "Is it possible for you to {vp}?"),
]

# ------------------------------------------------------------------ two-request wrappers
MULTI_TRAIN: list[tuple[str, str]] = [
    ("multi-tr-01", "{A}, and then {b}."),
    ("multi-tr-02", "First {a}; after that, {b}."),
    ("multi-tr-03", "Can you {a} and also {b}?"),
    ("multi-tr-04", "Please {a}. Then {b}."),
]
MULTI_TEST: list[tuple[str, str]] = [
    ("multi-te-01", "{A}. Once that's done, {b}."),
    ("multi-te-02", "I need two things: {a}, plus {b}."),
    ("multi-te-03", "Would you {a} and afterwards {b}?"),
    ("multi-te-04", "Two requests - {a}, and {b}."),
]

# ------------------------------------------------------------------ planning connectors
# {a} {b} {c} {d}: lookups, {s} {t}: sinks / follow-ups, {x}: an independent action.
PLAN_TRAIN: dict[str, list[tuple[str, str]]] = {
    "chain2": [("plan-tr-c2a", "{A}, then {s}."), ("plan-tr-c2b", "{A} and afterwards {s}.")],
    "par2_sink": [
        ("plan-tr-p2a", "{A} and {b}, then {s}."),
        ("plan-tr-p2b", "First {a} and {b}; when both are done, {s}."),
    ],
    "par3_sink": [
        ("plan-tr-p3a", "{A}, {b} and {c}, then {s}."),
        ("plan-tr-p3b", "Please {a}, {b}, and {c}; then {s}."),
    ],
    "chain3": [
        ("plan-tr-c3a", "{A}, then {b}, and finally {s}."),
        ("plan-tr-c3b", "{A}; next {b}; then {s}."),
    ],
    "fanout": [("plan-tr-fo", "{A}, then {s} and also {t}.")],
    "two_chains": [("plan-tr-tc", "{A} and then {s}; separately, {b} and then {t}.")],
    "big": [("plan-tr-bg", "{A}, {b} and {c}, then {s}. Also {x}.")],
    "big6": [("plan-tr-b6", "{A}, {b}, {c} and {d}, then {s}. Also {x}.")],
}
PLAN_TEST: dict[str, list[tuple[str, str]]] = {
    "chain2": [
        ("plan-te-c2a", "First things first: {a}. Once you have that, {s}."),
        ("plan-te-c2b", "I'd like you to {a} and, with the result, {s}."),
    ],
    "par2_sink": [
        ("plan-te-p2a", "In parallel, {a} and {b}. Once both are in, {s}."),
        ("plan-te-p2b", "Could you {a}, and {b}? Afterwards {s}."),
    ],
    "par3_sink": [
        ("plan-te-p3a", "Do three lookups - {a}; {b}; {c} - and then {s}."),
        ("plan-te-p3b", "I need you to {a}, {b} and {c}. With all three results, {s}."),
    ],
    "chain3": [
        ("plan-te-c3a", "Step one: {a}. Step two: {b}. Step three: {s}."),
        ("plan-te-c3b", "Would you {a}, after which {b}, and to finish {s}?"),
    ],
    "fanout": [("plan-te-fo", "Once you {a}, {s}; in addition, {t}.")],
    "two_chains": [("plan-te-tc", "Two separate jobs: {a} and then {s}. Independently, {b} and then {t}.")],
    "big": [("plan-te-bg", "Several things: {a}, {b}, {c}. Combine them and {s}. Unrelated to that, {x}.")],
    "big6": [
        ("plan-te-b6", "Several things: {a}, {b}, {c}, {d}. Combine them and {s}. Unrelated to that, {x}.")
    ],
}

# Sinks turn results of earlier steps into a message or note. "{{refs}}" marks the argument
# that receives the outputs of the steps it depends on.
SINKS: list[dict] = [
    {
        "tool": "email_send",
        "text_arg": "body",
        "args": {"to": "email", "subject": "subject"},
        "train": [
            'email the results to {to} with the subject "{subject}"',
            'send an email to {to} titled "{subject}" with what you found',
        ],
        "test": [
            'mail {to} a summary under the subject line "{subject}"',
            'write {to} an email called "{subject}" containing the findings',
        ],
    },
    {
        "tool": "email_draft",
        "text_arg": "body",
        "args": {"to": "email", "subject": "subject"},
        "train": ['draft (but do not send) an email to {to} titled "{subject}" with the results'],
        "test": ['prepare an unsent draft for {to} with the subject "{subject}" summarising everything'],
    },
    {
        "tool": "sms_send",
        "text_arg": "text",
        "args": {"phone_number": "phone"},
        "train": [
            "text the results to {phone_number}",
            "send a text message with the summary to {phone_number}",
        ],
        "test": [
            "shoot an SMS with the findings to {phone_number}",
            "send the key numbers by SMS to {phone_number}",
        ],
    },
    {
        "tool": "chat_send",
        "text_arg": "text",
        "args": {"channel": "channel"},
        "train": ["post a summary in the {channel} channel", "share the results in {channel} on team chat"],
        "test": ["drop a recap into the {channel} chat channel", "let {channel} know what you found"],
    },
    {
        "tool": "direct_message_send",
        "text_arg": "text",
        "args": {"recipient": "person"},
        "train": ["send {recipient} a direct message with the summary"],
        "test": ["DM the findings to {recipient}"],
    },
    {
        "tool": "note_create",
        "text_arg": "content",
        "args": {"title": "personal_title"},
        "train": [
            'save everything in a note called "{title}"',
            'write the results into a new note titled "{title}"',
        ],
        "test": [
            'keep a record of it all in a note named "{title}"',
            'jot the findings down in a fresh note, "{title}"',
        ],
    },
]

# second steps of chains: {noun} is the object noun, other slots are tool parameters
CHAIN_GET = {"train": ["open the top {noun} it finds"], "test": ["pull up the best-matching {noun}"]}
CHAIN_BOOK = {
    "train": ["book the best option for {traveler_name}"],
    "test": ["reserve the cheapest one in the name of {traveler_name}"],
}

# ------------------------------------------------------------------ timing judgment
TIMING_WRAP_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-w1", "hey can you {vp}?"),
    ("tj-tr-w2", "{VP} pls"),
    ("tj-tr-w3", "need you to {vp}"),
    ("tj-tr-w4", "could u {vp}?"),
    ("tj-tr-w5", "ok, {vp}"),
]
TIMING_WRAP_TEST: list[tuple[str, str]] = [
    ("tj-te-w1", "yo, {vp}?"),
    ("tj-te-w2", "real quick - {vp}"),
    ("tj-te-w3", "any chance you could {vp}?"),
    ("tj-te-w4", "{VP} when you can"),
    ("tj-te-w5", "hmm, {vp} for me?"),
]

# casual wording that does need a tool: (template id, tool id, text); slots are tool params
CASUAL_TRAIN: list[tuple[str, str, str]] = [
    ("tj-tr-c01", "weather_get_current", "brr, how cold is it in {city} right now?"),
    ("tj-tr-c02", "uv_index_get_current", "do i need sunscreen in {city} today?"),
    ("tj-tr-c03", "stock_get_quote", "how's {symbol} doing today?"),
    ("tj-tr-c04", "flight_get_status", "is {flight_number} running late?"),
    ("tj-tr-c05", "package_track", "where's my parcel {tracking_number} at?"),
    ("tj-tr-c06", "traffic_get_conditions", "is the traffic bad in {city} rn?"),
    ("tj-tr-c07", "crypto_get_quote", "what's {symbol} at rn?"),
    ("tj-tr-c08", "air_quality_get_current", "is the air ok for a run in {city} atm?"),
    ("tj-tr-c09", "team_get_latest_score", "did {team} win last night?"),
    ("tj-tr-c10", "calendar_list_events", "am i free on {date}?"),
    ("tj-tr-c11", "order_get_status", "any news on order {order_id}?"),
    ("tj-tr-c12", "timezone_get_local_time", "what time is it over in {city}?"),
    ("tj-tr-c13", "weather_get_forecast", "gonna need a jacket in {city} this week or nah? next {days} days"),
    ("tj-tr-c14", "lock_get_status", "did i leave the {lock} unlocked??"),
]
CASUAL_TEST: list[tuple[str, str, str]] = [
    ("tj-te-c01", "weather_get_forecast", "ugh is it gonna rain later in {city}? like the next {days} days"),
    ("tj-te-c02", "pollen_get_current", "my allergies are killing me, is pollen high in {city} today?"),
    ("tj-te-c03", "stock_get_quote", "yo what's {symbol} trading at"),
    ("tj-te-c04", "flight_get_status", "pls tell me {flight_number} isn't delayed"),
    ("tj-te-c05", "package_track", "has {tracking_number} shipped yet or what"),
    ("tj-te-c06", "airport_get_delays", "how bad are the lines at {airport} rn"),
    ("tj-te-c07", "crypto_get_quote", "is {symbol} pumping right now?"),
    ("tj-te-c08", "team_get_schedule", "when do {team} play next?"),
    ("tj-te-c09", "account_get_balance", "do i have enough in my {account} account rn?"),
    ("tj-te-c10", "marine_get_current", "are the waves any good in {city} this morning?"),
    ("tj-te-c11", "heat_index_get_current", "it feels brutal out, how hot is it really in {city}?"),
    ("tj-te-c12", "camera_list_motion_events", "was anyone snooping around the {camera} cam today?"),
]

# follow-ups after a tool result is already in the conversation (no new call needed)
RESULT_FOLLOWUP_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-r1", "thanks! can you sum that up in one sentence?"),
    ("tj-tr-r2", "so what does that mean for me?"),
    ("tj-tr-r3", "wait, what did it say about {x} again?"),
    ("tj-tr-r4", "ok cool. is that a lot?"),
    ("tj-tr-r5", "got it - can you repeat the main number?"),
]
RESULT_FOLLOWUP_TEST: list[tuple[str, str]] = [
    ("tj-te-r1", "hmm, could you explain that result more simply?"),
    ("tj-te-r2", "so, short version: what did you find for {x}?"),
    ("tj-te-r3", "nice. what's the takeaway from that?"),
    ("tj-te-r4", "remind me what you just told me about {x}"),
    ("tj-te-r5", "and in plain words?"),
]
# follow-ups that DO need a new call: same tool, new entity
NEW_REQUEST_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-n1", "what about {x}?"),
    ("tj-tr-n2", "ok, now do the same for {x}"),
    ("tj-tr-n3", "and for {x}?"),
]
NEW_REQUEST_TEST: list[tuple[str, str]] = [
    ("tj-te-n1", "how about {x} then?"),
    ("tj-te-n2", "same question for {x}, please"),
    ("tj-te-n3", "now check {x} too"),
]

GENERAL_Q_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-g1", "how does {c} work?"),
    ("tj-tr-g2", "can you explain {c}?"),
    ("tj-tr-g3", "what's the idea behind {c}?"),
    ("tj-tr-g4", "why do people care about {c}?"),
]
GENERAL_Q_TEST: list[tuple[str, str]] = [
    ("tj-te-g1", "in simple terms, what is {c}?"),
    ("tj-te-g2", "explain {c} like I'm five"),
    ("tj-te-g3", "what's the difference between {c} and {c2}?"),
    ("tj-te-g4", "what does {c} actually mean?"),
]
FACT_Q_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-f1", "what is the capital of {country}?"),
    ("tj-tr-f2", "what language do people speak in {country}?"),
]
FACT_Q_TEST: list[tuple[str, str]] = [
    ("tj-te-f1", "which city is the capital of {country}?"),
    ("tj-te-f2", "what continent is {country} on?"),
]
GENERATION_TRAIN: list[tuple[str, str]] = [
    ("tj-tr-x1", "write a short poem about {topic}"),
    ("tj-tr-x2", "give me a catchy title for a blog post about {topic}"),
    ("tj-tr-x3", 'rephrase this more politely: "{sentence}"'),
    ("tj-tr-x4", "write a two-line toast for {person}'s birthday"),
    ("tj-tr-x5", "come up with a name for a newsletter about {topic}"),
]
GENERATION_TEST: list[tuple[str, str]] = [
    ("tj-te-x1", "compose a limerick about {topic}"),
    ("tj-te-x2", "suggest three taglines for an article on {topic}"),
    ("tj-te-x3", 'make this sound more formal: "{sentence}"'),
    ("tj-te-x4", "write a short farewell card message for {person}"),
    ("tj-te-x5", "invent a slogan for a club devoted to {topic}"),
]
GREETINGS_TRAIN: list[str] = ["hi!", "hello", "hey there"]
GREETINGS_TEST: list[str] = ["good afternoon", "hiya", "morning!"]
CHITCHAT_TRAIN: list[str] = [
    "thanks, that's all for now",
    "hello there!",
    "you're a lifesaver",
    "good morning!",
    "haha that's funny",
    "ok cool",
    "never mind",
    "how are you today?",
    "have a nice evening",
    "sorry, wrong chat",
]
CHITCHAT_TEST: list[str] = [
    "cheers, appreciate it",
    "hey, how's it going?",
    "that was super helpful",
    "bye for now",
    "lol nice",
    "nah, forget it",
    "good night!",
    "awesome, thank you so much",
    "what's up?",
    "no worries",
]

# General-knowledge concepts per category: they look like tool requests but need no tool.
# Split like entity pools: positions 0-2 of every five go to TRAIN, 3-4 to TEST.
CONCEPTS: dict[str, list[str]] = {
    "environment": [
        "the greenhouse effect",
        "the UV index",
        "a weather front",
        "the jet stream",
        "El Niño",
        "the air quality index",
        "humidity",
        "a heat dome",
        "ocean tides",
        "the ozone layer",
        "wind chill",
        "a rain shadow",
        "permafrost",
        "a monsoon",
        "acid rain",
    ],
    "finance": [
        "a stock split",
        "compound interest",
        "an index fund",
        "inflation",
        "a bond yield",
        "dollar-cost averaging",
        "a credit score",
        "short selling",
        "a dividend",
        "diversification",
        "a Roth IRA",
        "market capitalisation",
        "a bear market",
        "an expense ratio",
        "a margin call",
    ],
    "communication": [
        "email encryption",
        "the BCC field",
        "a mailing list",
        "end-to-end encryption",
        "a read receipt",
        "SMS",
        "an out-of-office reply",
        "spam filtering",
        "a group chat",
        "VoIP calling",
        "an email alias",
        "a phishing attack",
        "two-factor codes by text",
        "a newsletter",
        "a video codec",
    ],
    "travel": [
        "jet lag",
        "a layover",
        "travel insurance",
        "an open-jaw ticket",
        "a Schengen visa",
        "airline overbooking",
        "a hotel resort fee",
        "frequent flyer miles",
        "a red-eye flight",
        "duty-free shopping",
        "the difference between a visa and a passport",
        "carbon offsets for flights",
        "a rail pass",
        "time zones",
        "a codeshare flight",
    ],
    "productivity": [
        "the Pomodoro technique",
        "time blocking",
        "the Eisenhower matrix",
        "getting things done",
        "a kanban board",
        "deep work",
        "inbox zero",
        "a Gantt chart",
        "OKRs",
        "the two-minute rule",
        "batching tasks",
        "a daily standup",
        "mind mapping",
        "a retrospective",
        "the 80/20 rule",
    ],
    "commerce": [
        "a return policy",
        "dropshipping",
        "a price-match guarantee",
        "buy now, pay later",
        "a restocking fee",
        "a loyalty program",
        "dynamic pricing",
        "a flash sale",
        "a warranty",
        "a chargeback",
        "a subscription box",
        "a marketplace seller rating",
        "free shipping thresholds",
        "a gift registry",
        "a refurbished product",
    ],
    "health": [
        "resting heart rate",
        "vitamin D",
        "intermittent fasting",
        "REM sleep",
        "blood pressure",
        "BMI",
        "a calorie deficit",
        "hydration",
        "an antibiotic",
        "a VO2 max",
        "blood sugar",
        "a probiotic",
        "an allergy",
        "cholesterol",
        "muscle soreness after exercise",
    ],
    "media": [
        "a streaming bitrate",
        "lossless audio",
        "a film trailer",
        "a podcast RSS feed",
        "Dolby Atmos",
        "a director's cut",
        "an audiobook narrator",
        "a music genre",
        "a box office opening",
        "a sequel",
        "an album's liner notes",
        "binge watching",
        "a laugh track",
        "vinyl records",
        "a film score",
    ],
    "knowledge": [
        "photosynthesis",
        "the Pythagorean theorem",
        "the Renaissance",
        "supply and demand",
        "plate tectonics",
        "the scientific method",
        "an ecosystem",
        "democracy",
        "black holes",
        "evolution",
        "the water cycle",
        "gravity",
        "a haiku",
        "the printing press",
        "DNA",
    ],
    "developer": [
        "a race condition",
        "recursion",
        "a REST API",
        "garbage collection",
        "a merge conflict",
        "Big-O notation",
        "a container",
        "continuous integration",
        "a hash map",
        "semantic versioning",
        "a deadlock",
        "a feature flag",
        "DNS",
        "an SSL certificate",
        "a pull request",
    ],
    "smart_home": [
        "a smart thermostat",
        "Zigbee",
        "a mesh network",
        "a motion sensor",
        "a heat pump",
        "smart plugs",
        "home automation scenes",
        "a robot vacuum's mapping",
        "a video doorbell",
        "standby power",
        "a smart lock",
        "geofencing",
        "an air purifier's HEPA filter",
        "solar inverters",
        "dimmer switches",
    ],
    "data": [
        "a p-value",
        "a SQL join",
        "a data warehouse",
        "standard deviation",
        "an A/B test",
        "a pivot table",
        "data normalisation",
        "a confidence interval",
        "an ETL pipeline",
        "correlation versus causation",
        "a primary key",
        "overfitting",
        "a histogram",
        "regression to the mean",
        "a KPI",
    ],
}


def split_list(values: list, split: str) -> list:
    """Positions 0-2 of every five for 'train', 3-4 otherwise (same rule as entities)."""
    if split == "train":
        return [v for i, v in enumerate(values) if i % 5 < 3]
    return [v for i, v in enumerate(values) if i % 5 >= 3]


def all_train_templates() -> list[str]:
    out = [
        t
        for _, t in SELECTION_TRAIN
        + MULTI_TRAIN
        + TIMING_WRAP_TRAIN
        + RESULT_FOLLOWUP_TRAIN
        + NEW_REQUEST_TRAIN
        + GENERAL_Q_TRAIN
        + FACT_Q_TRAIN
        + GENERATION_TRAIN
    ]
    out += [t for _, _, t in CASUAL_TRAIN] + CHITCHAT_TRAIN + GREETINGS_TRAIN
    out += [t for group in PLAN_TRAIN.values() for _, t in group]
    out += [t for s in SINKS for t in s["train"]] + CHAIN_GET["train"] + CHAIN_BOOK["train"]
    return out


def all_test_templates() -> list[str]:
    out = [
        t
        for _, t in SELECTION_TEST
        + MULTI_TEST
        + TIMING_WRAP_TEST
        + RESULT_FOLLOWUP_TEST
        + NEW_REQUEST_TEST
        + GENERAL_Q_TEST
        + FACT_Q_TEST
        + GENERATION_TEST
    ]
    out += [t for _, _, t in CASUAL_TEST] + CHITCHAT_TEST + GREETINGS_TEST
    out += [t for group in PLAN_TEST.values() for _, t in group]
    out += [t for s in SINKS for t in s["test"]] + CHAIN_GET["test"] + CHAIN_BOOK["test"]
    return out
