"""Black-box acceptance tests: each case is a small estate and the catalog's verdicts for it.

Expectations come from /work/shared/requirements.md (the catalog) by reasoning, never from
the checks' code; where amlaudit disagrees the case stays, marked xfail(strict=True).
"""
