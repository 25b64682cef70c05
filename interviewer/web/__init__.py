"""Voice interviews in the browser: FastAPI app, sessions, speech."""
