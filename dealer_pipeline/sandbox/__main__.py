"""`python -m dealer_pipeline.sandbox serve ...` (same options as `dealer-pipeline sandbox serve`)."""

from dealer_pipeline.sandbox.cli import main

main()
