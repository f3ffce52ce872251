"""The executor harness (`make`), for every module of these tests."""

from tests.executors.test_supervisor import make  # noqa: F401 (a fixture)
