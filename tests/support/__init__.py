"""Test, benchmark and demo support: real registries (``registries``), the token server
(``token_issuer``), TLS material (``certs``) and images pushed with plain ``requests``
(``images``, the oracle the tests trust, independent of regrep's own client)."""
