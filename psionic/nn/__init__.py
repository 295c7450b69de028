"""psionic.nn: Module, Parameter and the layers model families are written with."""

from psionic.nn.module import Module, ModuleList, Parameter

__all__ = ["Module", "ModuleList", "Parameter"]
