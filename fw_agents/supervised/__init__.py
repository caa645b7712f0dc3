"""The paper's supervised tasks: associative retrieval and multi-level glimpses."""
