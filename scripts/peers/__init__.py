"""Reference peers for the bench: nginx and Node.js, measured beside our
servers with the same load generator (see docs/peers.md)."""
