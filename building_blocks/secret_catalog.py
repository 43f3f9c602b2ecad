"""What a generated secret is (its policy) and which secrets every environment has (the catalogue).

Pure Python on purpose: the settings validation (unknown names in ``secret_rotation``), the stack and the
``infra secrets recover-state`` command all read this one definition, and none of them should pay for
importing a provider package to do so. The building block that turns a definition into resources is
:class:`building_blocks.generated_secret.GeneratedSecret`.

A policy is a frozen dataclass validated on construction: a policy that is too weak cannot exist.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MIN_PASSWORD_LENGTH = 32
"""Shortest generated password (characters). Machine-generated, machine-read: length costs nothing."""
MAX_PASSWORD_LENGTH = 256
MIN_KEY_BYTES = 32
"""Shortest generated key: 32 bytes = 256 bits, the key size of HMAC-SHA256 and AES-256."""
MAX_KEY_BYTES = 1024

# random_password's own default special set is !@#$%&*()-_=+[]{}<>:? ; ours is the RFC 3986 "unreserved"
# punctuation: safe unquoted in URLs, connection strings, shells, YAML and .env files.
URL_SAFE_SPECIAL = "-_.~"

_SECRET_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SECRET_NAME_MAX_LENGTH = 63  # a Kubernetes secret key and a Key Vault secret name (127) both accept it


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fail(owner: str, field_name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{owner}: field '{field_name}' = {value!r}; allowed: {allowed}")


@dataclass(frozen=True, kw_only=True)
class PasswordPolicy:
    """A password made by ``random_password``: length and character classes with minimum counts.

    Every field has a default, so ``PasswordPolicy()`` is a 40-character password with at least two of each
    class, special characters limited to :data:`URL_SAFE_SPECIAL`.
    """

    length: int = 40
    """Characters, from 32 (:data:`MIN_PASSWORD_LENGTH`) to 256."""
    upper: bool = True
    """Use A-Z."""
    lower: bool = True
    """Use a-z."""
    numeric: bool = True
    """Use 0-9."""
    special: bool = True
    """Use the characters of ``override_special``."""
    min_upper: int = 2
    """At least this many A-Z (0 when ``upper`` is off)."""
    min_lower: int = 2
    """At least this many a-z (0 when ``lower`` is off)."""
    min_numeric: int = 2
    """At least this many 0-9 (0 when ``numeric`` is off)."""
    min_special: int = 2
    """At least this many special characters (0 when ``special`` is off)."""
    override_special: str = URL_SAFE_SPECIAL
    """The special characters to draw from: printable ASCII punctuation, no spaces, no repeats. Left out:
    :data:`URL_SAFE_SPECIAL`. Ignored when ``special`` is off."""
    content_type: str = "text/plain; charset=us-ascii"
    """Content type of the Key Vault secret."""

    kind = "password"

    def __post_init__(self) -> None:
        owner = "PasswordPolicy"
        if not _is_int(self.length) or not MIN_PASSWORD_LENGTH <= self.length <= MAX_PASSWORD_LENGTH:
            raise _fail(owner, "length", self.length, f"an integer from {MIN_PASSWORD_LENGTH} to "
                        f"{MAX_PASSWORD_LENGTH} (shorter passwords are too weak)")
        for flag in ("upper", "lower", "numeric", "special"):
            if not isinstance(getattr(self, flag), bool):
                raise _fail(owner, flag, getattr(self, flag), "True or False")
        if not (self.upper or self.lower or self.numeric or self.special):
            raise ValueError(f"{owner}: upper, lower, numeric and special are all off; allowed: at least one "
                             "character class")
        for flag in ("upper", "lower", "numeric", "special"):
            minimum = getattr(self, f"min_{flag}")
            if not _is_int(minimum) or minimum < 0:
                raise _fail(owner, f"min_{flag}", minimum, "a non-negative integer")
            if minimum and not getattr(self, flag):
                raise _fail(owner, f"min_{flag}", minimum, f"0 while {flag}=False")
        total = self.min_upper + self.min_lower + self.min_numeric + self.min_special
        if total > self.length:
            raise ValueError(f"{owner}: the minimum counts add up to {total}, more than length = "
                             f"{self.length}; allowed: min_upper + min_lower + min_numeric + min_special "
                             "<= length")
        special = self.override_special
        if (not isinstance(special, str) or not special or len(set(special)) != len(special)
                or any(c not in string.punctuation for c in special)):
            raise _fail(owner, "override_special", special, "1 or more distinct ASCII punctuation "
                        "characters, no letters, digits or spaces")
        if not isinstance(self.content_type, str) or not self.content_type:
            raise _fail(owner, "content_type", self.content_type, "a non-empty string")

    @property
    def alphabet(self) -> str:
        """Every character the password may contain."""
        return "".join((
            string.ascii_uppercase if self.upper else "",
            string.ascii_lowercase if self.lower else "",
            string.digits if self.numeric else "",
            self.override_special if self.special else "",
        ))

    def describe(self) -> str:
        return f"password, {self.length} characters"

    def check_value(self, value: str) -> str | None:
        """Why ``value`` cannot be the result of this policy (``None`` when it can); never echoes it."""
        if len(value) != self.length:
            return f"has {len(value)} characters, the policy makes {self.length}"
        alphabet = set(self.alphabet)
        if any(c not in alphabet for c in value):
            return "contains characters the policy does not use"
        counts = (
            ("upper", self.min_upper, sum(c in string.ascii_uppercase for c in value)),
            ("lower", self.min_lower, sum(c in string.ascii_lowercase for c in value)),
            ("numeric", self.min_numeric, sum(c in string.digits for c in value)),
            ("special", self.min_special, sum(c in self.override_special for c in value)),
        )
        for label, minimum, count in counts:
            if count < minimum:
                return f"has {count} {label} characters, the policy requires at least {minimum}"
        return None


@dataclass(frozen=True, kw_only=True)
class RandomBytesPolicy:
    """A key made by ``random_bytes``, handed out base64-encoded (standard alphabet, padded)."""

    length: int = 64
    """Bytes, from 32 (:data:`MIN_KEY_BYTES`, 256 bits) to 1024. Left out: 64 (a HMAC-SHA512 key)."""
    content_type: str = "application/octet-stream; encoding=base64"
    """Content type of the Key Vault secret."""

    kind = "bytes"

    def __post_init__(self) -> None:
        owner = "RandomBytesPolicy"
        if not _is_int(self.length) or not MIN_KEY_BYTES <= self.length <= MAX_KEY_BYTES:
            raise _fail(owner, "length", self.length, f"an integer number of bytes from {MIN_KEY_BYTES} to "
                        f"{MAX_KEY_BYTES} (shorter keys are too weak)")
        if not isinstance(self.content_type, str) or not self.content_type:
            raise _fail(owner, "content_type", self.content_type, "a non-empty string")

    def describe(self) -> str:
        return f"random bytes, {self.length} bytes as base64"

    def check_value(self, value: str) -> str | None:
        """Why ``value`` cannot be the base64 result of this policy (``None`` when it can)."""
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not standard base64"
        if len(decoded) != self.length:
            return f"decodes to {len(decoded)} bytes, the policy makes {self.length}"
        return None


SecretPolicy = PasswordPolicy | RandomBytesPolicy


@dataclass(frozen=True, kw_only=True)
class SecretDefinition:
    """One generated secret of an environment."""

    name: str
    """The secret's name everywhere: Key Vault secret name, key in the global Kubernetes secrets, the key of
    ``secret_rotation`` in the environment settings. Lowercase letters, digits, single hyphens, ≤ 63."""
    policy: SecretPolicy
    """How the value is made."""
    description: str
    """What the secret is for (shown by the recovery command and in docs)."""
    in_cluster: bool = True
    """Delivered into the cluster as a global Kubernetes secret in the product namespace."""
    consumers: tuple[str, ...] = field(default=())
    """Who reads it, for the docs and the dry run (free text)."""

    def __post_init__(self) -> None:
        check_secret_name(self.name)
        if not isinstance(self.policy, PasswordPolicy | RandomBytesPolicy):
            raise ValueError(f"secret {self.name!r}: field 'policy' = {self.policy!r}; allowed: a "
                             "PasswordPolicy or RandomBytesPolicy")


def check_secret_name(name: Any) -> str:
    """``name`` when it is a valid secret name; ValueError naming the rule otherwise."""
    if not isinstance(name, str) or not _SECRET_NAME.match(name) or len(name) > SECRET_NAME_MAX_LENGTH:
        raise ValueError(f"secret name {name!r}; allowed: 1-{SECRET_NAME_MAX_LENGTH} lowercase letters, "
                         "digits and single hyphens, starting with a letter")
    return name


def check_unique(definitions: Iterable[SecretDefinition]) -> None:
    """ValueError when two definitions share a name."""
    seen: set[str] = set()
    for definition in definitions:
        if definition.name in seen:
            raise ValueError(f"two generated secrets are named {definition.name!r}; allowed: one secret per "
                             "name in an environment")
        seen.add(definition.name)


# The secrets of every environment. Add one here and every environment gets it on its next deploy; the
# settings field `secret_rotation` accepts exactly these names.
ENVIRONMENT_SECRETS: tuple[SecretDefinition, ...] = (
    SecretDefinition(
        name="postgres-admin-password",
        # Azure Database for PostgreSQL flexible server: 8-128 characters from three of the four classes.
        policy=PasswordPolicy(length=40),
        description="administrator password of the environment's PostgreSQL server (or in-cluster database)",
        consumers=("azurerm_postgresql_flexible_server.administrator_password", "product services"),
    ),
    SecretDefinition(
        name="app-signing-key",
        policy=RandomBytesPolicy(length=64),
        description="key the product signs and verifies its tokens and cookies with (HMAC-SHA512)",
        consumers=("product services",),
    ),
    SecretDefinition(
        name="service-api-key",
        # Sent in HTTP headers between services: letters and digits only, nothing to escape; 64 alphanumerics
        # carry about 381 bits.
        policy=PasswordPolicy(length=64, special=False, min_special=0),
        description="shared key of service-to-service calls inside the product",
        consumers=("product services",),
    ),
)
check_unique(ENVIRONMENT_SECRETS)

SECRET_NAMES: tuple[str, ...] = tuple(d.name for d in ENVIRONMENT_SECRETS)
"""The names ``secret_rotation`` accepts."""
