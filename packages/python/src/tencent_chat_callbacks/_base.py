"""The building blocks of the generated models: the base classes, the scalar types and the open
enums and tagged unions, with the same rules as the Rust crate's generated types.

Lenient where real bodies vary (unknown fields are kept, enum values and union members added
later still decode, the integers the vendor sometimes quotes are read from digit strings), strict
elsewhere: a string is never read as a number, a number never as a string or a boolean.
"""

from __future__ import annotations

import enum
import re
import typing as _t

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

Str = StrictStr
"""A JSON string."""
Bool = StrictBool
"""A JSON boolean."""
_DIGITS = re.compile(r"[0-9]{1,19}")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _from_number_text(value: object) -> object:
    """A string that is a JSON number, as that number (an `int` unless it has a fraction or an
    exponent): how the Rust crate reads numbers the vendor sent quoted. Anything else as it is."""
    if isinstance(value, str) and _JSON_NUMBER.fullmatch(value):
        return int(value) if value.lstrip("-").isdigit() else float(value)
    return value


F64 = _t.Annotated[float, BeforeValidator(_from_number_text), Field(strict=True)]
"""A JSON number (a string holding one is read as it, as in Rust)."""
I32 = _t.Annotated[int, BeforeValidator(_from_number_text), Field(strict=True, ge=-(2**31), le=2**31 - 1)]
"""A JSON integer that fits in 32 signed bits (a string holding one is read as it, as in Rust)."""
U32 = _t.Annotated[int, BeforeValidator(_from_number_text), Field(strict=True, ge=0, le=2**32 - 1)]
"""A JSON integer that fits in 32 unsigned bits (a string holding one is read as it, as in Rust)."""
I64 = _t.Annotated[int, BeforeValidator(_from_number_text), Field(strict=True, ge=-(2**63), le=2**63 - 1)]
"""A JSON integer that fits in 64 signed bits (a string holding one is read as it, as in Rust)."""
U64 = _t.Annotated[int, BeforeValidator(_from_number_text), Field(strict=True, ge=0, le=2**64 - 1)]
"""A JSON integer that fits in 64 unsigned bits (a string holding one is read as it, as in Rust)."""


class QuotedInt(int):
    """An integer that arrived as a string of digits: it is an `int` like any other, and is written
    back quoted, so a model dumps the body it read."""

    def __repr__(self) -> str:
        return f"QuotedInt({int(self)})"


def _keep_quoting(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return QuotedInt(handler(int(value)))
    return handler(value)


def _write_as_read(value: int) -> _t.Union[int, str]:
    return str(int(value)) if isinstance(value, QuotedInt) else value


LenientU64 = _t.Annotated[
    int,
    Field(strict=True, ge=0, le=2**64 - 1),
    WrapValidator(_keep_quoting),
    PlainSerializer(_write_as_read),
]
"""An unsigned integer the vendor sends either as a number or as a string of 1 to 19 digits
(`EventTime` is both in practice); always a Python `int` once read (a `QuotedInt` when it came
quoted, written back quoted)."""


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


StringOrList = _t.Annotated[_t.List[Str], BeforeValidator(_as_list)]
"""Text the vendor documents as a string in one place and a list of strings in another; always a
list once read, as in the Rust types."""


class CallbackModel(BaseModel):
    """Base of every generated model.

    Attributes are snake_case and read from (and written as) the vendor's names; a model can also be
    built with the attribute names. Fields the model does not list are kept in `model_extra` and
    written back by `model_dump`.
    """

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )

    def to_json(self) -> bytes:
        """The model as compact JSON with the vendor's names; fields left `None` are not written."""
        return self.model_dump_json(exclude_none=True).encode()


class Callback(CallbackModel):
    """Base of the body of each command: `to_json` writes back what was read (fields that were
    absent stay absent, an `EventTime` that came quoted stays quoted, unknown fields are kept)."""

    COMMAND: _t.ClassVar[str]
    """The command, e.g. `Group.CallbackAfterCreateGroup`."""
    KIND: _t.ClassVar[str]
    """`before` (the reply decides the action) or `after` (the reply is only acknowledged)."""
    REPLY: _t.ClassVar[_t.Type[CallbackModel]]
    """The model of the reply."""
    DOC_URL: _t.ClassVar[str]
    """The vendor's page for the command."""

    def to_json(self) -> bytes:
        """The body as compact JSON with the vendor's names: the fields that were read or set
        (a default the model filled in is not written)."""
        return self.model_dump_json(exclude_unset=True).encode()


class OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not list: `GroupType("NewKind")` is a member of its
    own whose value is `"NewKind"`, equal to that string, written back as sent."""

    @classmethod
    def _missing_(cls, value: object) -> _t.Any:
        if not isinstance(value, str):
            return None
        aliases: _t.Dict[str, str] = getattr(cls, "__aliases__", {})
        if value in aliases:
            return cls(aliases[value])
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)


OTHER_TAG = "__other__"
"""The discriminator value of the catch-all member of every tagged union."""


def tag_of(tag: str, attribute: str, known: _t.Tuple[str, ...]) -> _t.Callable[[_t.Any], str]:
    """The discriminator of a union told apart by its `tag` field (`attribute` on a model): each
    known value selects its member; any other value, or none, selects the catch-all member, which
    keeps the content as sent (and refuses a missing or non-string tag)."""

    def which(value: _t.Any) -> str:
        found = value.get(tag, value.get(attribute)) if isinstance(value, dict) else getattr(value, attribute, None)
        return found if isinstance(found, str) and found in known else OTHER_TAG

    return which


D = _t.TypeVar("D", bound="Decision")


class Decision:
    """An answer to a before-callback: `ErrorCode` 0 allows, 1 refuses, 2 drops, an app-defined
    code refuses with that code; some commands also take changed content or extra answers.

    Each before-callback has a subclass with class methods for the answers it accepts, e.g.
    `c2c.BeforeSendMsgDecision.refuse()`.
    """

    REPLY: _t.ClassVar[_t.Type[CallbackModel]]

    __slots__ = ("error_code", "error_info", "fields")

    def __init__(self, error_code: int = 0, error_info: str = "", fields: _t.Optional[_t.Dict[str, _t.Any]] = None):
        self.error_code = error_code
        self.error_info = error_info
        self.fields = {k: v for k, v in (fields or {}).items() if v is not None}

    @classmethod
    def _app_code(cls: _t.Type[D], code: int, reason: str, low: int, high: int) -> D:
        if isinstance(code, bool) or not isinstance(code, int) or not low <= code <= high:
            raise ValueError(f"error code {code!r} is outside the range {low}..={high} this command accepts")
        return cls(code, reason)

    def to_reply(self) -> CallbackModel:
        """The reply this decision is sent as."""
        fields = {"action_status": "OK", "error_code": self.error_code, "error_info": self.error_info, **self.fields}
        return self.REPLY.model_validate(fields)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Decision)
            and (self.error_code, self.error_info, self.fields) == (other.error_code, other.error_info, other.fields)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.error_code, self.error_info))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error_code={self.error_code!r}, error_info={self.error_info!r}, fields={self.fields!r})"
