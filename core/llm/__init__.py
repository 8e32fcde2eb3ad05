"""LLM backends (llama.cpp in-process, OpenAI-compatible HTTP), prompts, chat formats and model presets.

Importing this package never imports llama_cpp; backends load it lazily.
"""
