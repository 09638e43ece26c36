"""Readers and writers: files -> :class:`~medvis.volume.Volume` -> files."""

from medvis.io.registry import find_reader, find_writer, load, readers, save, writers

__all__ = ["load", "save", "readers", "writers", "find_reader", "find_writer"]
