"""Prompt templates, plain text, shipped inside the wheel as qa.prompts."""
