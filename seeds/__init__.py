"""The bundled seed corpus, shipped inside the wheel as qa.seeds."""
