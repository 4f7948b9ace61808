"""`OutputSerializer`: a ModelSerializer for responses, with DRF's output computed by a plan.

DRF builds a serializer's fields every time one is made (deep copies of the declared fields and
model introspection), then walks them generically for every row (`get_attribute`, SkipField and
None handling per field): a large share of a list request's CPU (decision 0011 has the
figures). An `OutputSerializer` keeps DRF's
declaration (the schema, the field types, the JSON) and builds, once per class, a flat plan of
steps from its fields:

- a model field, a dotted source through forward relations ending in one (`agency.name`), or a
  queryset annotation (a name the model class does not have): `operator.attrgetter` + that
  field's own `to_representation`;
- a primary-key related field: the `<name>_id` attribute (DRF's pk-only optimisation); a
  many-to-many one: the related objects' pks (from the prefetch cache when prefetched);
- a `SerializerMethodField`: the method of THIS serializer (its context is the request's);
- a nested `OutputSerializer` (one or many): one serializer of that class per response, made
  with this serializer's context;
- anything else, and any step whose attribute lookup fails (a None part-way along a dotted
  source): DRF's own `get_attribute` / `to_representation`, on this serializer's own bound
  field (built only then).

The JSON is DRF's: tests/test_output_serializers.py compares both for every output serializer
on the seeded demo borough. Output only: these serializers are never given `data=`.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField

PLAIN, PK, PKS, METHOD, NESTED, DRF = range(6)

_plans: dict[type, list[tuple]] = {}

# Field types whose `to_representation` needs nothing from the serializer's context (a FileField
# or a hyperlink needs the request): only these take the plain step.
_CONTEXT_FREE = (
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.JSONField,
    serializers.ReadOnlyField,
    serializers.TimeField,
    serializers.UUIDField,
)


def _source_is_plain(model, attrs: list[str]) -> bool:
    """True when `attrs` walks forward relations of `model` and ends on a concrete field, or is
    one name the model class does not have at all: a queryset annotation (rows without it fall
    back to DRF, as any failed lookup does)."""
    if len(attrs) == 1 and not hasattr(model, attrs[0]):
        return True
    for i, attr in enumerate(attrs):
        try:
            field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if not field.concrete or field.many_to_many:
            return False
        if i < len(attrs) - 1:
            if not (field.many_to_one or field.one_to_one) or field.related_model is None:
                return False
            model = field.related_model
    return True


def _pk_attname(model, field) -> str | None:
    if not isinstance(field, PrimaryKeyRelatedField) or len(field.source_attrs) != 1:
        return None
    if not field.use_pk_only_optimization() or field.pk_field is not None:
        return None
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    return model_field.attname if model_field.many_to_one else None


def _is_many_to_many(model, attrs: list[str]) -> bool:
    if len(attrs) != 1:
        return False
    try:
        return model._meta.get_field(attrs[0]).many_to_many
    except FieldDoesNotExist:
        return False


def _plan_build(cls) -> list[tuple]:
    model = cls.Meta.model
    steps = []
    for field in cls()._readable_fields:
        name = field.field_name
        if isinstance(field, serializers.SerializerMethodField):
            steps.append((METHOD, name, field.method_name, None))
            continue
        if isinstance(field, serializers.ListSerializer) and isinstance(
            field.child, OutputSerializer
        ):
            getter = operator.attrgetter(".".join(field.source_attrs))
            steps.append((NESTED, name, getter, (type(field.child), True)))
            continue
        if isinstance(field, OutputSerializer):
            getter = operator.attrgetter(".".join(field.source_attrs))
            steps.append((NESTED, name, getter, (type(field), False)))
            continue
        if isinstance(field, serializers.BaseSerializer):
            steps.append((DRF, name, None, None))
            continue
        if (
            isinstance(field, serializers.ManyRelatedField)
            and type(field.child_relation) is PrimaryKeyRelatedField
            and field.child_relation.pk_field is None
            and _is_many_to_many(model, field.source_attrs)
        ):
            getter = operator.attrgetter(field.source_attrs[0])
            steps.append((PKS, name, getter, None))
            continue
        attname = _pk_attname(model, field)
        if attname is not None:
            steps.append((PK, name, operator.attrgetter(attname), None))
        elif isinstance(field, _CONTEXT_FREE) and _source_is_plain(model, field.source_attrs):
            getter = operator.attrgetter(".".join(field.source_attrs))
            steps.append((PLAIN, name, getter, field.to_representation))
        else:
            steps.append((DRF, name, None, None))
    return steps


def _drf_value(field, instance, out: dict) -> None:
    """DRF's own handling of one field (Serializer.to_representation's loop body)."""
    try:
        attribute = field.get_attribute(instance)
    except SkipField:
        return
    check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    out[field.field_name] = None if check_for_none is None else field.to_representation(attribute)


class OutputSerializer(serializers.ModelSerializer):
    @classmethod
    def plan(cls) -> list[tuple]:
        plan = _plans.get(cls)
        if plan is None:
            plan = _plans[cls] = _plan_build(cls)
        return plan

    def _nested(self, cls):
        made = self.__dict__.setdefault("_nested_serializers", {})
        if cls not in made:
            made[cls] = cls(context=self.context)
        return made[cls]

    def to_representation(self, instance):
        out = {}
        for kind, name, a, b in self.plan():
            if kind == PLAIN or kind == PK:
                try:
                    value = a(instance)
                except (AttributeError, KeyError, ObjectDoesNotExist):
                    _drf_value(self.fields[name], instance, out)
                    continue
                out[name] = None if value is None else (b(value) if b else value)
            elif kind == PKS:
                out[name] = [] if instance.pk is None else [item.pk for item in a(instance).all()]
            elif kind == METHOD:
                out[name] = getattr(self, a)(instance)
            elif kind == NESTED:
                child_cls, many = b
                try:
                    value = a(instance)
                except (AttributeError, KeyError, ObjectDoesNotExist):
                    _drf_value(self.fields[name], instance, out)
                    continue
                child = self._nested(child_cls)
                if not many:
                    out[name] = None if value is None else child.to_representation(value)
                    continue
                if isinstance(value, models.manager.BaseManager):
                    value = value.all()
                out[name] = [child.to_representation(item) for item in value]
            else:
                _drf_value(self.fields[name], instance, out)
        return out


# --- query strings and request bodies ------------------------------------------------------------


class QuerySerializer(serializers.Serializer):
    """A query string's serializer (a list's filters): each parameter given is validated as
    given, a blank one included (`?status=` is not a status: 400 naming it). DRF reads a
    `QueryDict` as a submitted HTML form, where a blank value counts as not given."""

    def to_internal_value(self, data):
        if hasattr(data, "dict"):  # a QueryDict: its last value of each parameter
            data = data.dict()
        return super().to_internal_value(data)


class InputSerializer(serializers.Serializer):
    """A request body's serializer: each value must already be of the JSON type the schema gives
    its field (a string for a text, date or slug field, an integer for a number or an id, true or
    false for a yes/no, a list for a list, one of the choices as written), else a 400 naming the
    field. DRF alone turns `0` into `"0"`, `"5"` into 5, `"yes"` into true and `{}` into an empty
    list: requests the schema forbids, which the API would accept. Form data (a multipart upload)
    is text by nature and is left to DRF. `core.schema.AutoSchema` warns of a request body whose
    serializer is not one of these (the schema test fails on warnings)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):
            errors = {}
            for field in self._writable_fields:
                value = data.get(field.field_name, None)
                message = None if value is None else json_type_error(field, value)
                if message:
                    errors[field.field_name] = [message]
            if errors:
                raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(data)


class StrictInputSerializer(InputSerializer):
    """An `InputSerializer` that also refuses a key it does not know: 400 naming each (with any
    other field's error), nothing saved. For a PATCH, where a misspelt field would otherwise be
    dropped and the request answered 200 with nothing changed."""

    unknown_field_message = "Not a field that can be set here."

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):
            known = {field.field_name for field in self._writable_fields}
            unknown = {str(key): [self.unknown_field_message] for key in data if key not in known}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown, code="unknown_field")
        return value


# Fields whose JSON value is a list; fields whose JSON value is a string (text, dates, slugs).
LIST_FIELDS = (
    serializers.ListField,
    serializers.ListSerializer,
    serializers.ManyRelatedField,
    serializers.MultipleChoiceField,
)
TEXT_FIELDS = (
    serializers.CharField,
    serializers.SlugRelatedField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.TimeField,
)


def json_type_error(field, value) -> str | None:
    """Why `value`, parsed from JSON, is not of the type the schema documents for `field`; None
    when it is (or the field is one this does not judge: DRF still validates it)."""
    if isinstance(field, LIST_FIELDS):
        return None if isinstance(value, list) else "Expected a list of items."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.ChoiceField):
        keys = field.choices.keys()
        if any(type(value) is type(key) and value == key for key in keys):
            return None
        return None if value == "" and field.allow_blank else f'"{value}" is not a valid choice.'
    if isinstance(field, serializers.IntegerField | PrimaryKeyRelatedField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "A whole number is required."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "A number is required."
    if isinstance(field, TEXT_FIELDS):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.Serializer):
        return None if isinstance(value, Mapping) else "Expected an object."
    return None
