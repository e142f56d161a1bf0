"""Certification evidence per go-live check ID (shared `golive.md`), judged from the store and call logs.

    from dealer_pipeline.certification import certify, report
    cert = certify(engine, sandbox_url=None)        # one Evidence per check, in checklist order
    report.write(cert, Path("certification"))       # certification.md + evidence.json

Each check has one rule (`rules/`), a function `(conn, context) -> Evidence`; `registry.all_rules()`
returns them. No Dagster here: the command line (`dealer-pipeline certify`) drives it.
"""

from dealer_pipeline.certification.checklist import CHECKS, Check, parse_golive
from dealer_pipeline.certification.model import Context, Evidence, Verdict
from dealer_pipeline.certification.registry import all_rules
from dealer_pipeline.certification.run import Certification, CertificationError, certify, open_store

__all__ = ["CHECKS", "Certification", "CertificationError", "Check", "Context", "Evidence", "Verdict", "all_rules",
           "certify", "open_store", "parse_golive"]
