"""A local stand-in for the part of Cekura's API that cekura-ci uses: real HTTP on loopback."""
