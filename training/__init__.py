"""Adaptive agent fine-tuning: coreset selection, experience replay, LoRA SFT, jobs, comparison.

Like `core`, importing `training` never imports torch/transformers/peft; they load lazily.
"""
