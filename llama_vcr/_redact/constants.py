"""Constants the redaction modules share."""

#: What a secret is replaced with in a recording (and in matching).
REDACTED = "REDACTED"
#: Shorter values are too likely to occur by chance to be scrubbed from text.
MIN_SECRET_LENGTH = 8
#: A value found by a name pattern only must look random: this long, two kinds of characters.
MIN_PATTERN_SECRET_LENGTH = 12
#: A credential taken from a request's own headers is hidden in its body and response when this long.
MIN_HEADER_SECRET_LENGTH = 12
#: Values found by a redaction pass: ``(variable or "", value)``.
SecretValues = tuple[tuple[str, str], ...]
