"""Speed targets, each reported as a ratio against a baseline measured in the same run."""
