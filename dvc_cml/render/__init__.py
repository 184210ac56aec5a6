"""Pure renderers: a Report in, text or bytes out."""
