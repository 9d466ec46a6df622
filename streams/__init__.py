"""cdrwatch: streaming detection of caller-ID spoofing and international call bursts."""

__version__ = "0.1.0"
