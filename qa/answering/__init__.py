"""Passages → a draft answer: the Answerer protocol (base.py), the extractive answerer and the
chat-model one. (Not qa/answer/: that name is the public function `qa.answer`.)"""
