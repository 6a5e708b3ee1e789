"""The event-study engine: normal-return models, abnormal returns, tests, inference."""
