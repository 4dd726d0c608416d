"""Exception reports that show where an error happened, never the values it happened with."""

from typing import Any

from django.views.debug import SafeExceptionReporterFilter


class NoValuesExceptionReporterFilter(SafeExceptionReporterFilter):
    """Every frame's locals and every POST value are hidden, in every mode.

    ``sensitive_variables`` protects only the decorated function's own frame; a secret
    handed to a library (cryptography, paramiko, a database driver) sits in that library's
    frames too. In a secrets store no local value is safe to report.
    """

    def is_active(self, request: Any) -> bool:
        return True

    def get_post_parameters(self, request: Any) -> dict[str, str]:
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> list[tuple[str, str]]:
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
