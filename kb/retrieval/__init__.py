"""Finding the sources that answer a question: intent, hybrid search, commit search."""
