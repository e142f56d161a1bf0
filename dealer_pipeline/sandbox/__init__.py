"""The sandbox: strict local stand-ins for Autotrader Connect, Webmotors, Autocosmos v3 and Autochat.

One ASGI app (`app.build_app`) serves the four vendors on one port, generated from a seed
(`world.SandboxWorld`), with scripted faults and a call log; `runner.start_sandbox` runs it as a
subprocess for tests, the demo and benchmarks. It shares no code with the adapters or the
webhook receiver: it has its own constants, signing and parsing.
"""
