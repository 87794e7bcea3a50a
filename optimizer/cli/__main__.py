"""``python -m optimizer.cli``: the placefund command line."""

from optimizer.cli import app

if __name__ == "__main__":
    app()
