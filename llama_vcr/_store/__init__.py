"""The store: where recordings live on disk and how their files are named, read and written.

Pure file-system code, shared by the pytest plugin (through the vcrpy persister) and the CLI;
it imports neither vcrpy nor pytest.

Layout::

    <cassette dir>/<test module path without .py>/<test name>/<sha256>[-<n>].json

A file name is a :class:`RecordingName`: the request hash (llama-stack's recipe, see
:func:`llama_vcr._canonical.request_hash`) and, for the n-th repeat of the same request in one
test, ``-<n>`` (``occurrence`` in the file). The test name is pytest-recording's cassette name,
made distinct where its rules would give two tests one directory (:func:`directory_name`).

A test's files are replaced all at once (:func:`stage_recordings`): its whole new set is written
to a hidden directory beside its directory, then swapped in by renames; a crash at any point
leaves the complete old set or the complete new set (:func:`recover` finishes or undoes a swap
that was cut short). Files are written with the umask's permissions.
"""

from .names import (
    CASSETTE_SUFFIXES,
    FORBIDDEN_IN_NAME,
    RecordingName,
    directory_name,
    legacy_directory_name,
    next_occurrence,
    recording_dir,
    recording_files,
    recording_name,
    same_test,
    sanitised_name,
)
from .read import (
    DEFAULT_MAX_FILE_SIZE,
    age_in_days,
    belongs_to,
    document_of,
    parse_size,
    read_document,
    read_recording,
    read_recording_text,
    recorded_test_id,
)
from .write import (
    STAGING_PREFIX,
    StagedRecordings,
    place,
    reading,
    recover,
    replace_recordings,
    stage_recordings,
    today,
    write_atomically,
)

__all__ = [
    "CASSETTE_SUFFIXES",
    "DEFAULT_MAX_FILE_SIZE",
    "FORBIDDEN_IN_NAME",
    "STAGING_PREFIX",
    "RecordingName",
    "StagedRecordings",
    "age_in_days",
    "belongs_to",
    "directory_name",
    "document_of",
    "legacy_directory_name",
    "next_occurrence",
    "parse_size",
    "place",
    "read_document",
    "read_recording",
    "read_recording_text",
    "reading",
    "recorded_test_id",
    "recording_dir",
    "recording_files",
    "recording_name",
    "recover",
    "replace_recordings",
    "same_test",
    "sanitised_name",
    "stage_recordings",
    "today",
    "write_atomically",
]
