"""Scripts that produce the numbers the course reports (run them with ``python -m``)."""
