"""Publishing canonical vehicles to the targets (Autocosmos, Autochat) and reporting back (Webmotors).

`engine` runs one (target, dealer) with one failure semantics and one report; `core` is
target-neutral (desired state, diff, outcomes in `publications`); `readback` keeps the store true
to what a target did on its own; each target module plans its items and speaks its vendor's API.
"""
