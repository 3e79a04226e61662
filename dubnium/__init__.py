"""Dubnium: a mode controller for a NixOS workstation (desktop, studio-local, compute)."""

__version__ = "0.1.0"
