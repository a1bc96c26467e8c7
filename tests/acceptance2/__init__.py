"""Second-round black-box acceptance tests: combinations and composition the first round left out.

Expectations come from /work/shared/requirements.md (the catalog) by reasoning and from service-tag
arithmetic done here with `ipaddress`, never from amlaudit's checks or network engine. Where amlaudit
disagrees the case stays, marked xfail(strict=True) with the reason.
"""
