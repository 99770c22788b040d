"""cekura-ci: gate merges on Cekura voice-agent test runs."""

__version__ = "0.2.0"
