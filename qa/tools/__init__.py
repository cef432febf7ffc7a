"""Launchers started by make, beside qa rather than in its flow: nothing in qa imports them."""
