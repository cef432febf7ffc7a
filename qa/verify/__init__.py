"""A draft answer → checked: citations rewritten to passages given, each sentence judged against
what it cites, re-pointed or left out."""
