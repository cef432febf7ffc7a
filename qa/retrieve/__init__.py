"""Question → the k best passages: dense and BM25 candidates from the store, fused, reranked."""
