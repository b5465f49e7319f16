"""The Slack bot: a thin adapter from Slack input to kb's services and back as Block Kit."""
