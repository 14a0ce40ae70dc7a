"""Carriers that belong to the application: `local` plays a phone network on this machine with
the app's own scripted, synthesised debtor (development, tests, the demo, the benchmark).
The Provider protocol and the real carriers are in telephony/providers/."""
