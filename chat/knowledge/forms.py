"""The upload form of the knowledge base, used by the tenant page and the operators' admin."""

from django import forms
from django.core.exceptions import ValidationError

from chat.knowledge.models import Document
from chat.knowledge.reading import Unreadable, read_document
from chat.knowledge.services import MAX_BYTES


class DocumentUploadForm(forms.ModelForm):
    file = forms.FileField(
        label="File",
        help_text=f"Markdown (.md), plain text (.txt, UTF-8) or a PDF with text; at most "
        f"{MAX_BYTES // 2**20} MB.",
    )

    class Meta:
        model = Document
        fields = ["title"]
        help_texts = {"title": "Optional; the file's name otherwise."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False

    def clean_file(self):
        """Read the file once here, so a bad one is a form error before anything is written."""
        file = self.cleaned_data["file"]
        if file.size > MAX_BYTES:
            raise ValidationError(f"The file is {file.size:,} bytes; the limit is {MAX_BYTES:,}.")
        data = file.read()
        try:
            read_document(data, file.name)
        except Unreadable as error:
            raise ValidationError(str(error)) from error
        self.cleaned_data["data"] = data
        return file
