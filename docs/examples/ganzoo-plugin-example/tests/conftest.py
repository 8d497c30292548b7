"""ganzoo's conformance kit as a pytest plugin: gives the tests the ganzoo_check_model fixture."""

pytest_plugins = ["ganzoo.testing.pytest_plugin"]
