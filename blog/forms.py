"""The public comment form: fields with length caps, a honeypot and a signed start time."""

import time

from django import forms
from django.conf import settings
from django.core import signing
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from blog.models import Comment

# The honeypot's name is one a form-filling bot cannot resist; people never see the field.
HONEYPOT_FIELD = "website"
_SALT = "kabar.comment-form"
# A form shown more than this long ago is stale: its start time can no longer be replayed.
FORM_MAX_AGE = 2 * 24 * 3600


def form_token(post_id: int, *, now: float | None = None) -> str:
    """Return the signed start time of a comment form for `post_id`."""
    return signing.dumps({"post": post_id, "t": now if now is not None else time.time()}, salt=_SALT)


class CommentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=Comment._meta.get_field("author_name").max_length, strip=True)
    email = forms.EmailField(
        label=_("Email"),
        max_length=Comment._meta.get_field("author_email").max_length,
        help_text=_("Never shown on the site."),
    )
    url = forms.URLField(
        label=_("Website"),
        required=False,
        max_length=Comment._meta.get_field("author_url").max_length,
        assume_scheme="https",
        help_text=_("Optional."),
    )
    body = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 8}), strip=True)
    parent = forms.CharField(required=False, widget=forms.HiddenInput)
    started = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, post, now: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.post = post
        self.now = now
        max_length = settings.COMMENTS_MAX_LENGTH
        self.fields["body"].max_length = max_length
        self.fields["body"].widget.attrs["maxlength"] = str(max_length)
        self.fields["body"].validators.append(MaxLengthValidator(max_length))
        self.fields["body"].help_text = _(
            "A blank line starts a paragraph; simple HTML (<em>, <strong>, <code>, <blockquote>, links) "
            "is kept. Up to %(count)d characters."
        ) % {"count": max_length}
        self.fields[HONEYPOT_FIELD] = forms.CharField(
            label=_("Leave this field empty"),
            required=False,
            widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
        )
        if not self.is_bound:
            self.initial.setdefault("started", form_token(post.pk, now=now))
        for name, autocomplete in (("name", "name"), ("email", "email"), ("url", "url")):
            self.fields[name].widget.attrs["autocomplete"] = autocomplete

    def clean_started(self) -> float:
        try:
            if not self.cleaned_data.get("started"):
                raise signing.BadSignature
            data = signing.loads(self.cleaned_data["started"], salt=_SALT, max_age=FORM_MAX_AGE)
        except signing.SignatureExpired:
            raise forms.ValidationError(_("This form has expired: please send your comment again.")) from None
        except signing.BadSignature:
            raise forms.ValidationError(_("This form was not sent as the site made it: please reload it.")) from None
        if data.get("post") != self.post.pk:
            raise forms.ValidationError(_("This form belongs to another post: please reload it."))
        return float(data["t"])

    def clean(self):
        cleaned_data = super().clean()
        if self.data.get(HONEYPOT_FIELD):
            raise forms.ValidationError(_("The field “Leave this field empty” must stay empty."), code="honeypot")
        started = cleaned_data.get("started")
        now = self.now if self.now is not None else time.time()
        if started is not None and now - started < settings.COMMENTS_MIN_SECONDS:
            # The form keeps its start time: whoever reads this and sends again is slow enough.
            raise forms.ValidationError(
                _("That was quicker than anyone types: please check your comment and send it again."), code="too_fast"
            )
        return cleaned_data

    def clean_parent(self) -> Comment | None:
        source_id = self.cleaned_data.get("parent", "").strip()
        if not source_id:
            return None
        parent = Comment.objects.approved().filter(post=self.post, source_id=source_id).first()
        if parent is None:
            raise forms.ValidationError(_("The comment you reply to is not on this post."))
        return parent
