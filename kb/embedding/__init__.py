"""Sentence embeddings: the bundled model for documents, its ONNX export for questions."""
