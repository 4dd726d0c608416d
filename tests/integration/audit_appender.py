"""Appends audit events from a process of its own (and seals now and then), for the concurrency test.

Run as ``python -m tests.integration.audit_appender COUNT TAG`` with the test database's URL.
"""

import sys

import django


def main() -> None:
    count, tag = int(sys.argv[1]), sys.argv[2]
    django.setup()
    from audit.sealing import audit_seal
    from audit.services import audit_record

    for number in range(count):
        audit_record(action="tested", service=f"appender-{tag}", details={"n": number, "x": 1e16})
        if number % 25 == 24:
            audit_seal()  # several sealers at once: one links, the others return at once


if __name__ == "__main__":
    main()
