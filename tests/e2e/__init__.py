"""End-to-end tests: the dashboard in a real headless Chromium against a live demo building."""
