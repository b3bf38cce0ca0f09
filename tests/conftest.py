"""pytest settings for the test suite."""

# The fixtures are check modules that tests load by path under their own names; collecting
# them for docstring examples (--doctest-modules) would register their exercises twice.
collect_ignore = ["fixtures"]


def pytest_collection_modifyitems(items):
    """A test that uses test_coursework's `graded` fixture (one grading run of several
    submissions, about a minute) is slow, wherever it is written."""
    import pytest

    for item in items:
        if "graded" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
