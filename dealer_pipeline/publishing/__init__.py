"""Publishing canonical vehicles to the targets (Autocosmos, Autochat) and reporting back.

`core` is target-neutral (desired state, diff, outcomes in `publications`); each target
module drafts its payloads and speaks its vendor's API.
"""
