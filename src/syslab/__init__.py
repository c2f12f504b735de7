"""syslab: ten classic systems problems, each solved by a real, working, measured system."""

__version__ = "0.1.0"
