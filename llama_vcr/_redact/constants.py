"""Constants the redaction modules share."""

#: What a secret is replaced with in a recording (and in matching).
REDACTED = "REDACTED"
#: Shorter values are too likely to occur by chance to be scrubbed from text.
MIN_SECRET_LENGTH = 8
#: A value found by a name pattern only must look random: this long, two kinds of characters.
MIN_PATTERN_SECRET_LENGTH = 12
