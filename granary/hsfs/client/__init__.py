"""``hsfs.client``: only its ``exceptions`` module has a meaning without Hopsworks' REST client."""

from granary.hsfs.client import exceptions

__all__ = ["exceptions"]
