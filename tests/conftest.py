"""pytest settings for the test suite."""

# The fixtures are check modules that tests load by path under their own names; collecting
# them for docstring examples (--doctest-modules) would register their exercises twice.
collect_ignore = ["fixtures"]
