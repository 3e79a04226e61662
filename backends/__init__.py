"""The real host: adapters over D-Bus (systemd, logind), pw-dump, NVML and /proc.

`backends.host.HostBackend` composes one adapter per concern and implements
`dubnium.backend.Backend`; the CLI (`mode --backend host`) is its only caller in production,
the contract suite and the test host (`tests/host/`) call it in tests. Each adapter translates
its library's errors at its edge, in one place, into `BackendError` or `Unavailable`.
"""
