"""Model fields of Kabar's own."""

import json

from django.core.exceptions import ValidationError
from django.db import models


class OrderedJSONField(models.TextField):
    """A JSON value stored as text, so that the order of keys survives every database.

    PostgreSQL's jsonb reorders object keys; front matter must come back in the order the
    file had it, nested maps included, so the JSON text is kept as written.
    """

    description = "JSON stored as text, key order kept"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return json.loads(value)

    def to_python(self, value):
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not valid JSON: {exc.msg}.") from exc

    def get_prep_value(self, value):
        if value is None:
            return value
        return json.dumps(value, ensure_ascii=False)

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
