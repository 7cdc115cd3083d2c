"""The bundle's file names and size limits (DESIGN.md "Evidence bundle"). Imports nothing."""

from __future__ import annotations

PROBE = "probe.json"
CURL_STDOUT, CURL_STDERR, CURL_EXIT = "curl.stdout", "curl.stderr", "curl.exit"
REQUIRED = (PROBE, CURL_STDOUT, CURL_STDERR, CURL_EXIT)  # what a writer always writes
CLIENT_LOG, SERVER_LOG = "client-access.log", "server-access.log"
# A reader also takes a partial bundle: the curl files may all be absent when an access log is there.
CURL_FILES = (CURL_STDOUT, CURL_STDERR, CURL_EXIT)
LOGS = (CLIENT_LOG, SERVER_LOG)
OPTIONAL_TEXT = (
    CLIENT_LOG,
    SERVER_LOG,
    "client-stats.before",
    "client-stats.after",
    "server-stats.before",
    "server-stats.after",
)
DUMP = "client-config-dump.json"
RESOURCES_DIR = "resources"
DIAGNOSIS = "diagnosis.json"

MAX_FILE_BYTES = 256 * 1024 * 1024  # a full config dump of a big mesh fits; anything larger is not a bundle
MAX_TEXT = 4 * 1024 * 1024  # one text file as written
MAX_DUMP = 64 * 1024 * 1024  # a larger dump is left out rather than cut (cut JSON is unreadable)
