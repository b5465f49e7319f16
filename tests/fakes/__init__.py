"""Local fakes of services outside the machine (a Slack Web API over HTTP), for tests."""
