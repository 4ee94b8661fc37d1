"""Forms of the analysis pages."""

from django import forms


class ProfileUploadForm(forms.Form):
    file = forms.FileField(
        label="Profile file",
        help_text="callgrind/cachegrind, perf script, gprof, SDE or Runyard tabular output; gzip is fine.",
    )
    name = forms.CharField(
        label="Name", required=False, max_length=100, help_text="Optional; the file's name otherwise."
    )
    disassembly = forms.FileField(
        label="Disassembly (optional)",
        required=False,
        help_text="objdump -d of the profiled binary, for the vector register mix of callgrind --dump-instr.",
    )
