"""Local fakes of services outside the machine (Slack, for an ingest and for an app; LLM
endpoints), for tests and benchmarks."""
