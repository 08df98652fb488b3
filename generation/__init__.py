"""Generation: the OpenAI-compatible client, the local engine, its models, and answers.

Submodules are imported explicitly (`from generation.client import LLMClient`); this package
imports nothing itself so that `python -m generation.engine` starts without side effects.
"""
