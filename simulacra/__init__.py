"""simulacra: generative agents of real people, and how faithful they are."""

__version__ = "0.1.0"
