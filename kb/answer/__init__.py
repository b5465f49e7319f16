"""Answers with citations: the grounded composer, the optional LLM, knowledge gaps."""
