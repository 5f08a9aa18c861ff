"""Route modules; each exposes ``routes``, which ``api/main.py`` lists in order."""
