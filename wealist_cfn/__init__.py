"""Wealist's production environment as nested CloudFormation templates built from Python."""
