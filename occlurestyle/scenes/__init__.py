"""Built-in sample scenes with ground truth, and reading user captures (video files or image folders).

Must not know about stylization.
"""
