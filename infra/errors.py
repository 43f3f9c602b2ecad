"""The one exception type for bad input. Entry points print it as a single line and exit non-zero."""


class ConfigError(Exception):
    """Bad input: a broken environment definition, configuration or version file.

    The message is one line that names the file, environment or field, the value received and what is allowed.
    """

    exit_code = 2
