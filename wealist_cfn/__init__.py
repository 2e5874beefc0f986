"""Wealist's production environment as nested CloudFormation templates built from Python."""

__version__ = "0.1.0"
