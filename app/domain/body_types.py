"""Request bodies declared once, as types: both the reading and the JSON Schema of the OpenAPI
document come from the declaration.

    class NewChannel(BodyType):
        id: str | None = declare.identity(check=not_reserved)
        name: str = declare.name(required=True)

    new = NewChannel.read(data)      # a NewChannel, or 400 naming every problem at once
    NewChannel.json_schema()         # its request schema (app/http/openapi.py)

A field is one of `Body`'s readers (app/domain/validation.py) with its options, so a declared
body answers exactly what the hand-written reading answered: unknown keys first, then each field
in the order declared, with the same error ids, messages, `data` and `subErrors`. A field may add
a `check` (a rule the JSON type cannot say: a reserved id, the size of clientData), and a field
whose reading is its own (a token's permissions, whose sub-errors name `permissions[0]...`) gives
a `reader` and its schema.

Why not msgspec (issue 15, point 3, weighed): msgspec decodes into typed structs fast and emits
JSON Schema, but it stops at the first problem and words it its own way (``Expected `str`, got
`int` - at `$.name` ``), while clients rely on one 400 `INVALID_PARAMETERS_FORMAT` naming every
offending parameter with today's messages. Keeping them would mean running `Body` after msgspec
anyway, and the rules outside a JSON type (blank names, reserved ids, clientData's size, the
permissions' own sub-errors) would still be checks of ours. A declaration over `Body` keeps the
answers unchanged, adds no dependency, and derives the schema from the same fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from app.domain.ids import IDENTITY
from app.domain.validation import MAX_TEXT, MAX_TIME, MIN_TIME, Body

Schema = dict[str, Any]
# A rule beyond the JSON type: the message of the refusal, or None. Called with the value as
# read whenever the key is given (and not an accepted null), `MISSING` when its kind already
# refused it, as the handlers' own checks were: a check judging only well-typed values guards
# itself (`isinstance`).
Check = Callable[[Any], str | None]
# A field's own reading of a given value (null included): (the value, its sub-errors).
Reader = Callable[[Any], tuple[Any, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Field:
    """One key of a body: `kind` names the `Body` reader, `options` its keyword arguments."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    check: Check | None = None
    reader: Reader | None = None
    schema: Schema = field(default_factory=dict)  # added to (or, with a reader, is) the schema
    description: str = ""

    @property
    def required(self) -> bool:
        return bool(self.options.get("required"))

    def read(self, body: Body, key: str, also: Check | None = None) -> Any:
        """The value of `key` (MISSING when refused), its problems noted in `body`; `also`: a
        rule of this request, checked after the field's own."""
        if self.reader is None:
            value = getattr(body, self.kind)(key, **self.options)
        elif body.has(key):
            value, errors = self.reader(body.data[key])
            body.errors.extend(errors)
        else:
            return body.fail(key, f"{key!r} is required") if self.required else None
        for check in (self.check, also):
            if check is not None and body.has(key) and value is not None:
                problem = check(value)
                if problem:
                    value = body.fail(key, problem)
        return value

    def json_schema(self) -> Schema:
        if self.reader is not None:
            schema = dict(self.schema)
        else:
            schema = {**_kind_schema(self.kind, self.options), **self.schema}
        if self.description:
            schema["description"] = self.description
        if self.options.get("nullable"):
            schema = {"anyOf": [schema, {"type": "null"}]}
        return schema


def _kind_schema(kind: str, options: Mapping[str, Any]) -> Schema:
    """What `Body`'s reader of that kind accepts, in JSON Schema."""
    if kind == "text":
        schema: Schema = {"type": "string", "maxLength": options.get("max_len", MAX_TEXT)}
        if options.get("min_len"):
            schema["minLength"] = options["min_len"]
        return schema
    if kind == "name":  # non-blank: at least one character that is not white space
        return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}
    if kind == "identity":
        return {"type": "string", "pattern": IDENTITY.pattern}
    if kind == "time":
        return {"type": "number", "description": "seconds since the Unix epoch",
                "minimum": MIN_TIME, "maximum": MAX_TIME}
    if kind == "number":
        bounds = {k: options[k] for k in ("minimum", "maximum") if options.get(k) is not None}
        return {"type": "number", **bounds}
    if kind == "obj":
        return {"type": "object"}
    if kind in ("boolean", "array"):
        return {"type": kind}
    raise ValueError(f"no field kind {kind!r}")


class BodyType:
    """A request body declared as a class of fields; `read` gives an instance whose attributes
    hold the values read (None where a key is absent: `given` tells absent from null)."""

    fields: ClassVar[dict[str, Field]] = {}  # in the order declared: the order of the refusals
    given: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collects the fields (a subclass's after its base's) and leaves None in their place."""
        super().__init_subclass__(**kwargs)
        own = {k: v for k, v in vars(cls).items() if isinstance(v, Field)}
        cls.fields = {**cls.fields, **own}
        for key in own:
            setattr(cls, key, None)

    @classmethod
    def read(cls, data: Any, **also: Check) -> Self:
        """The body read, or 400 naming every problem. `also`: this request's own rules for some
        fields, checked right after the field's own (a user may not rename themselves)."""
        if unknown := set(also) - set(cls.fields):
            raise ValueError(f"{cls.__name__} has no field {sorted(unknown)}")
        body = Body(data, allowed=cls.fields)
        values = cls()
        for key, spec in cls.fields.items():
            setattr(values, key, spec.read(body, key, also.get(key)))
        body.done()
        values.given = frozenset(k for k in cls.fields if body.has(k))
        return values

    def given_values(self) -> dict[str, Any]:
        """The fields the body gave, with their values as read (an update's changes)."""
        return {key: getattr(self, key) for key in self.fields if key in self.given}

    @classmethod
    def json_schema(cls) -> Schema:
        """The body's schema: strict, since `read` refuses unknown keys."""
        schema: Schema = {
            "type": "object",
            "properties": {key: spec.json_schema() for key, spec in cls.fields.items()},
        }
        required = [key for key, spec in cls.fields.items() if spec.required]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


# --- the fields, one per `Body` reader ---------------------------------------------------------
# They return `Any` (as `dataclasses.field` does) so that `name: str = declare.name()` types.


def text(*, required: bool = False, nullable: bool = False, min_len: int = 0,
         max_len: int = MAX_TEXT, check: Check | None = None, schema: Schema | None = None,
         description: str = "") -> Any:
    options = {"required": required, "nullable": nullable, "min_len": min_len, "max_len": max_len}
    return Field("text", options, check, schema=schema or {}, description=description)


def name(*, required: bool = False, description: str = "") -> Any:
    """A display name: non-empty once stripped, at most 255 characters."""
    return Field("name", {"required": required}, description=description)


def identity(*, required: bool = False, nullable: bool = False, check: Check | None = None,
             schema: Schema | None = None, description: str = "") -> Any:
    return Field("identity", {"required": required, "nullable": nullable}, check,
                 schema=schema or {}, description=description)


def boolean(*, required: bool = False, nullable: bool = False, description: str = "") -> Any:
    return Field("boolean", {"required": required, "nullable": nullable},
                 description=description)


def number(*, required: bool = False, nullable: bool = False, minimum: float | None = None,
           maximum: float | None = None, description: str = "") -> Any:
    options = {"required": required, "nullable": nullable, "minimum": minimum, "maximum": maximum}
    return Field("number", options, description=description)


def time(*, required: bool = False, nullable: bool = False, description: str = "") -> Any:
    return Field("time", {"required": required, "nullable": nullable}, description=description)


def obj(*, required: bool = False, nullable: bool = False, check: Check | None = None,
        description: str = "") -> Any:
    return Field("obj", {"required": required, "nullable": nullable}, check,
                 description=description)


def array(items: Schema, *, required: bool = False, nullable: bool = False,
          description: str = "") -> Any:
    return Field("array", {"required": required, "nullable": nullable},
                 schema={"items": items}, description=description)


def own(reader: Reader, schema: Schema, *, required: bool = False, description: str = "") -> Any:
    """A field read by its own `reader` whenever given (null included), described by `schema`."""
    return Field("own", {"required": required}, reader=reader, schema=schema,
                 description=description)


def component(schema_name: str) -> Schema:
    """A reference to a schema of the OpenAPI document's components (app/http/openapi.py)."""
    return {"$ref": f"#/components/schemas/{schema_name}"}
