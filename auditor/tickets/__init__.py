"""Findings to tickets: one ticket per finding fingerprint, kept in step with every audit.

`target.py` is the contract every ticketing target implements (GitHub Issues, Jira,
Azure Boards); the planner decides what to do from findings and the tickets a target
lists, and the target only carries the plan out.
"""
