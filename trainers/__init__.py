"""Trainers (``ecomsuite.trainers``, mapped to the top-level ``trainers/`` folder in pyproject):
``sft`` (TRL SFTTrainer: LoRA / QLoRA / full), ``merge`` (PEFT), ``baselines`` (encoder / seq2seq).
Recipes (``recipes/*.yaml``) are package data; each opens with the command that runs it.

Kept free of imports: ``ecomsuite sft --help`` must start fast, and ``bench/gpu_sft.py`` imports
``ecomsuite.trainers.sft`` on machines without lm-eval.
"""
