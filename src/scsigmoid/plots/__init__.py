"""Figures and tables drawn from result CSVs (never from models)."""
