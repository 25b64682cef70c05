"""The AI interviewer: scripts with time budgets, the session engine, text and voice transports."""
