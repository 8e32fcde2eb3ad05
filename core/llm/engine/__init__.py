"""Local inference in its own process: a worker (`python -m core.llm.engine.worker`) that owns llama.cpp,
and a client backend that talks to it over pipes, so a crash in native code never takes the caller down."""
