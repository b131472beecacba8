"""Browser tests: the H5 pages in headless Chromium at a phone viewport."""
